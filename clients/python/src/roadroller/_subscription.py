"""A subscription to a road: one bidirectional Offramp stream, with credit
granted as the caller consumes messages.

Every record of the road passes through here, so the read path does as
little as it can per message. The thread iterating the subscription reads
the stream itself: handing each message over from a reader thread costs more
than everything else together (two threads waking each other and taking
turns at the GIL, per message). A background reader reads only when the
stream must be read without the caller blocking on it: for a `poll` with a
timeout, for a `commit` waiting for its answer, and ahead (up to the credit)
while the caller is busy elsewhere, so that a slow caller leaves the server
waiting for credit, still polling Kafka and serving commands, rather than
stuck on the transport. Each `RoadMessage` becomes a `Message` with plain
field reads (no JSON parsing, no datetime), and credit goes back in one
`RequestMessages` per half window."""

from __future__ import annotations

import collections
import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar, cast

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from . import pb
from ._errors import CommitError, RoadrollerError, from_rpc_error
from ._types import Message, SnapshotComplete, SnapshotQueued

logger = logging.getLogger("roadroller")

DEFAULT_WINDOW = 100_000
"""Messages granted ahead of what the caller has taken, by default.

Credit must cover the round trip: from the caller taking half the window,
through the top-up reaching the server, to the next records arriving. When
it runs out, the server holds back what it has read and, its buffer full,
pauses fetching from Kafka; a resumed fetch can take half a second. The
server reads faster than a Python caller takes, so it is soon a window
ahead and waits for each top-up: with 30,000 this left a snapshot reader
idle for most of its time (27,000 keys/s; 65,000 with 100,000, on the same
road of 100,000 keys). Credit is not memory: messages are buffered here
only while the caller is busy outside `poll` (about 15 MiB for 100,000
messages of 100 bytes); otherwise they wait in the transport's flow
control."""

_READ_AHEAD_AFTER = 0.05
"""Seconds the caller may spend outside `poll` before the background reader
reads ahead for it (up to the credit granted)."""

_RECHECK = 1.0
"""Seconds between the background reader's looks while the caller reads."""

Item = Message | SnapshotComplete | SnapshotQueued
T = TypeVar("T", bound=Item)


@dataclass(frozen=True)
class _Rebalance:
    partitions: frozenset[int]


@dataclass(frozen=True)
class _End:
    error: RoadrollerError | None


class Subscription(Iterator[T], Generic[T]):
    """An open subscription; iterate it for its items.

    In GROUP mode the items are `Message`s (`Subscription[Message]`). In
    SNAPSHOT mode they are one `Message` per live key, then a
    `SnapshotComplete`, then every later change (deletes included) as
    `Message`s; before the first of them, `SnapshotQueued` items tell the
    snapshot's place while it waits for the road's (or the caller's) limit
    of concurrent snapshots. A snapshot of a materialized road keeps the
    token to continue it from in `resume_token`.

    Credit is managed for you: at most `window` messages are granted ahead of
    what the caller has taken, topped up by one request each time half of it
    has been taken. Iterating (or `poll(None)`) reads the stream in the
    caller's thread, the fastest way; a `poll` with a timeout is served by a
    background reader. Use it as a context manager, or call `close()`, to
    leave the stream. Iteration ends when the server ends the stream and raises
    the `RoadrollerError` subclass of the status it ended it with
    (`UnavailableError` at server shutdown: reconnect, and a GROUP stream
    resumes from its commits; `ResourceExhaustedError` when over a limit of
    subscriptions, with `retry_after`).
    """

    def __init__(
        self,
        stub: pb.OfframpServiceStub,
        start: pb.StartSubscription,
        *,
        window: int,
        metadata: tuple[tuple[str, str], ...] = (),
        on_rebalance: Callable[[frozenset[int]], None] | None = None,
    ) -> None:
        if window < 1:
            raise ValueError("window must be at least 1")
        self._window = window
        self._top_up = max(1, window // 2)
        self._on_rebalance = on_rebalance
        self._requests: queue.SimpleQueue[pb.SubscribeRequest | None] = queue.SimpleQueue()
        self._commits: dict[str, Future[pb.CommitResponse]] = {}
        self._correlation = itertools.count(1)
        self._lock = threading.Lock()
        self._taken = 0  # messages taken since credit was last granted
        self._paused = False
        self._closing = False
        self._end: _End | None = None
        self._delivered: dict[int, int] = {}
        self.connection: pb.Connection | None = None
        """Who serves the subscription, once the server said so."""
        self.partitions: frozenset[int] = frozenset()
        """The partitions this subscriber holds, as of the items taken so far."""
        self.resume_token: str | None = start.resume_token or None
        """SNAPSHOT mode on a materialized road: the `resume_token` of the
        last message taken (the one it started from until then); `None`
        while no message has carried one (GROUP mode, or a snapshot read from
        the topic). Persist it and pass it to `Client.snapshot(resume_token=)`
        to continue after what was taken: the remaining keys, the same
        boundary, then the same changes (so changes taken after the boundary
        come again)."""

        # Reading. Whoever holds `_read_lock` may read the stream; what the
        # background reader reads waits in `_buffer`, appended to only under
        # `_read_lock` so that the order of the stream is kept.
        self._read_lock = threading.Lock()
        self._buffer: collections.deque[Item | _Rebalance] = collections.deque()
        self._final: _End | None = None  # set once the stream has ended
        self._wake = threading.Condition()
        self._waiters = 0  # threads waiting for the background reader
        self._wanted = False  # a timed poll found nothing: read the next item
        self._in_poll = False
        self._left_poll = time.monotonic()

        start.initial_credit = window
        # Records in runs: grpcio hands each response from its own thread to
        # the reader's, and that handover, not the records, is what costs.
        start.batch_messages = True
        self._requests.put(pb.SubscribeRequest(start=start))
        self._call = stub.Subscribe(self._outgoing(), metadata=metadata)
        self._reader = threading.Thread(
            target=self._background, name="roadroller-subscription", daemon=True
        )
        self._reader.start()

    # Iteration.

    def __iter__(self) -> Subscription[T]:
        return self

    def __next__(self) -> T:
        item = self.poll(None)
        if item is None:
            raise StopIteration
        return item

    @property
    def ended(self) -> bool:
        """Whether the stream has ended and every item has been taken."""
        return self._end is not None

    def poll(self, timeout: float | None) -> T | None:
        """The next item, waiting at most `timeout` seconds (`None`: as long
        as it takes); `None` when nothing arrived in time or the stream has
        ended (see `ended`). Raises `RoadrollerError` when the server ended
        the stream with an error."""
        deadline = None if timeout is None else time.monotonic() + timeout
        buffer = self._buffer
        self._in_poll = True
        try:
            while True:
                if self._end is not None:
                    if self._end.error is not None:
                        raise self._end.error
                    return None
                item: Item | _Rebalance | _End | None
                if buffer:
                    item = buffer.popleft()
                elif self._final is not None:
                    # Set after the stream's last item was buffered: look again.
                    item = buffer.popleft() if buffer else self._final
                elif self._closing:
                    item = _End(None)  # closed here: what was not read is dropped
                elif deadline is None and self._read_lock.acquire(blocking=False):
                    # Nobody else is reading: read for ourselves, the fast path.
                    try:
                        item = None if buffer else self._read_one()
                    finally:
                        self._read_lock.release()
                elif not self._await_reader(deadline):
                    return None
                else:
                    continue
                if type(item) is Message:  # the common case first
                    self._delivered[item.partition] = item.offset + 1
                    if item.resume_token is not None:
                        self.resume_token = item.resume_token
                    self._took_one()
                    return cast(T, item)
                if item is None:
                    continue
                if isinstance(item, _End):
                    self._end = item
                elif isinstance(item, _Rebalance):
                    self.partitions = item.partitions
                    self._delivered = {
                        p: o for p, o in self._delivered.items() if p in item.partitions
                    }
                    if self._on_rebalance is not None:
                        self._on_rebalance(item.partitions)
                else:
                    return cast(T, item)
        finally:
            self._in_poll = False
            self._left_poll = time.monotonic()

    # Flow control.

    def _took_one(self) -> None:
        with self._lock:
            self._taken += 1
            if self._paused or self._taken < self._top_up:
                return
            count, self._taken = self._taken, 0
        self._send(pb.SubscribeRequest(request=pb.RequestMessages(count=count)))

    def pause(self) -> None:
        """Drops the credit to zero: no more messages arrive (those already
        sent are still delivered) until `resume()`. The subscriber keeps its
        partitions however long it pauses."""
        with self._lock:
            self._paused = True
            self._taken = 0
        self._send(pb.SubscribeRequest(cancel=pb.CancelMessages()))

    def resume(self) -> None:
        """Grants a full window of credit again after `pause()`."""
        with self._lock:
            self._paused = False
            self._taken = 0
        self._send(pb.SubscribeRequest(request=pb.RequestMessages(count=self._window)))

    # Commits and seeks.

    def commit(
        self,
        offsets: Message | Mapping[int, int] | None = None,
        *,
        timeout: float | None = 30.0,
    ) -> dict[int, int]:
        """Commits offsets for the stream and waits for the server's answer.

        With no argument, commits every message taken so far from the
        partitions still held; with a `Message`, commits up to and including
        it; with a mapping, commits those partitions to those next offsets.
        Returns what was committed; raises `CommitError` when the server
        refused (e.g. a partition no longer held, or a SNAPSHOT
        subscription), `TimeoutError` when it did not answer in time.
        """
        if offsets is None:
            wanted = dict(self._delivered)
            if not wanted:
                return {}
        elif isinstance(offsets, Message):
            wanted = {offsets.partition: offsets.next_offset}
        else:
            wanted = dict(offsets)
        correlation_id = str(next(self._correlation))
        answer: Future[pb.CommitResponse] = Future()
        with self._lock:
            if self._end is not None or self._final is not None or self._closing:
                raise CommitError(grpc.StatusCode.CANCELLED, "the subscription has ended")
            self._commits[correlation_id] = answer
        self._send(
            pb.SubscribeRequest(
                commit=pb.CommitOffsets(correlation_id=correlation_id, offsets=wanted)
            )
        )
        # The answer comes on the stream: have it read meanwhile.
        with self._wake:
            self._waiters += 1
            self._wake.notify_all()
        try:
            response = answer.result(timeout)
        except FutureTimeout:
            with self._lock:
                self._commits.pop(correlation_id, None)
            raise TimeoutError(f"no answer to commit {correlation_id} within {timeout}s") from None
        finally:
            with self._wake:
                self._waiters -= 1
        if not response.success:
            raise CommitError(grpc.StatusCode.FAILED_PRECONDITION, response.error)
        return wanted

    def seek(self, to: str | datetime | Mapping[int, int]) -> None:
        """Moves the read position of the held partitions: ``"beginning"``,
        ``"end"``, the first record at or after a `datetime`, or explicit
        partition offsets. Messages already sent are still delivered."""
        position = pb.SeekPosition()
        if to == "beginning":
            position.boundary = pb.SEEK_BOUNDARY_BEGINNING
        elif to == "end":
            position.boundary = pb.SEEK_BOUNDARY_END
        elif isinstance(to, datetime):
            stamp = Timestamp()
            stamp.FromDatetime(to)
            position.timestamp.CopyFrom(stamp)
        elif isinstance(to, Mapping):
            position.offsets.offsets.update(to)
        else:
            raise ValueError(f"cannot seek to {to!r}")
        self._send(pb.SubscribeRequest(seek=position))

    # Lifecycle.

    def close(self) -> None:
        """Leaves the stream; in GROUP mode the consumer leaves its group.
        Uncommitted messages are delivered again to the stream's next
        subscriber."""
        with self._lock:
            if self._closing:
                return
            self._closing = True
        self._call.cancel()
        self._requests.put(None)
        with self._wake:
            self._wake.notify_all()
        self._reader.join(timeout=5)

    def __enter__(self) -> Subscription[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, request: pb.SubscribeRequest) -> None:
        if not self._closing:
            self._requests.put(request)

    def _outgoing(self) -> Iterator[pb.SubscribeRequest]:
        while (request := self._requests.get()) is not None:
            yield request

    # Reading.

    def _read_one(self) -> Item | _Rebalance | _End | None:
        """Reads the next response; the caller holds `_read_lock`. Returns
        what the caller of `poll` is to see of it, `None` for what is handled
        here (the connection, commit answers, warnings)."""
        if self._final is not None:
            return None
        try:
            response = next(self._call)
        except StopIteration:
            return self._finish(None)
        except grpc.RpcError as e:
            return self._finish(None if self._closing else from_rpc_error(e))
        kind = response.WhichOneof("kind")
        if kind == "messages":
            # A run of records: into the buffer in order, for `poll` to take.
            self._buffer.extend(map(Message.from_pb, response.messages.messages))
            return None
        if kind == "message":
            return Message.from_pb(response.message)
        if kind == "rebalance":
            return _Rebalance(frozenset(response.rebalance.partitions))
        if kind == "snapshot_complete":
            return SnapshotComplete(dict(response.snapshot_complete.offsets))
        if kind == "snapshot_queued":
            return SnapshotQueued(response.snapshot_queued.place)
        if kind == "commit_response":
            with self._lock:
                answer = self._commits.pop(response.commit_response.correlation_id, None)
            if answer is not None:
                answer.set_result(response.commit_response)
        elif kind == "connection":
            self.connection = response.connection
        elif kind == "error":
            logger.warning("subscription: %s", response.error.reason)
        return None

    def _finish(self, error: RoadrollerError | None) -> _End:
        """The stream has ended: fails the commits still waiting, ends the
        request stream, and wakes everyone waiting."""
        end = _End(error)
        self._final = end
        with self._lock:
            pending, self._commits = self._commits, {}
        ended = pb.CommitResponse(success=False, error="the subscription ended first")
        for answer in pending.values():
            answer.set_result(ended)
        self._requests.put(None)
        with self._wake:
            self._wake.notify_all()
        return end

    def _await_reader(self, deadline: float | None) -> bool:
        """Waits until the background reader has read something, or the
        stream has ended or is closing; `False` when `deadline` passed
        first."""
        with self._wake:
            self._waiters += 1
            self._wanted = True  # even if this poll gives up before it comes
            self._wake.notify_all()
            try:
                while not self._buffer and self._final is None and not self._closing:
                    if deadline is None:
                        self._wake.wait()
                        continue
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return False
                    self._wake.wait(left)
            finally:
                self._waiters -= 1
        return True

    def _background(self) -> None:
        """Reads for whoever waits with a timeout or for a commit, and ahead
        for a caller busy outside `poll`; otherwise stays out of the way."""
        wake = self._wake
        while True:
            with wake:
                while True:
                    if self._closing or self._final is not None:
                        return
                    if self._waiters or self._wanted:
                        break
                    if self._in_poll:
                        wake.wait(_RECHECK)  # the caller reads for itself
                        continue
                    busy = time.monotonic() - self._left_poll
                    if busy >= _READ_AHEAD_AFTER:
                        break
                    wake.wait(_READ_AHEAD_AFTER - busy)
            if not self._read_lock.acquire(timeout=_READ_AHEAD_AFTER):
                continue  # someone else is reading; look again
            try:
                item = self._read_one()
                if item is not None and not isinstance(item, _End):
                    self._buffer.append(item)
                if self._buffer:
                    self._wanted = False
            except Exception as e:  # never leave a waiter hanging
                logger.exception("subscription reader failed")
                self._finish(RoadrollerError(grpc.StatusCode.UNKNOWN, f"reading failed: {e}"))
            finally:
                self._read_lock.release()
            with wake:
                if self._waiters:
                    wake.notify_all()
