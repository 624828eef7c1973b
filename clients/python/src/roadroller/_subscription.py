"""A subscription to a road: one bidirectional Offramp stream, read by a
background thread, with credit granted as the caller consumes messages."""

from __future__ import annotations

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
from ._types import Message, SnapshotComplete

logger = logging.getLogger("roadroller")

Item = Message | SnapshotComplete
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
    SNAPSHOT mode they are one
    `Message` per live key, then a `SnapshotComplete`, then every later
    change (deletes included) as `Message`s.

    Credit is managed for you: at most `window` messages are granted ahead of
    what the caller has taken, and more are granted as items are taken. Use
    it as a context manager, or call `close()`, to leave the stream.
    Iteration ends when the server ends the stream and raises
    `RoadrollerError` when it ends it with an error (UNAVAILABLE at server
    shutdown: reconnect, and a GROUP stream resumes from its commits).
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
        self._on_rebalance = on_rebalance
        self._requests: queue.SimpleQueue[pb.SubscribeRequest | None] = queue.SimpleQueue()
        self._items: queue.SimpleQueue[Item | _Rebalance | _End] = queue.SimpleQueue()
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

        start.initial_credit = window
        self._requests.put(pb.SubscribeRequest(start=start))
        self._call = stub.Subscribe(self._outgoing(), metadata=metadata)
        self._reader = threading.Thread(
            target=self._read, name="roadroller-subscription", daemon=True
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
        while True:
            if self._end is not None:
                if self._end.error is not None:
                    raise self._end.error
                return None
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                item = self._items.get(timeout=left)
            except queue.Empty:
                return None
            if isinstance(item, _End):
                self._end = item
            elif isinstance(item, _Rebalance):
                self.partitions = item.partitions
                self._delivered = {p: o for p, o in self._delivered.items() if p in item.partitions}
                if self._on_rebalance is not None:
                    self._on_rebalance(item.partitions)
            elif isinstance(item, Message):
                self._delivered[item.partition] = item.next_offset
                self._took_one()
                return cast(T, item)
            else:
                return cast(T, item)

    # Flow control.

    def _took_one(self) -> None:
        with self._lock:
            self._taken += 1
            if self._paused or self._taken < max(1, self._window // 2):
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
            if self._end is not None or self._closing:
                raise CommitError(grpc.StatusCode.CANCELLED, "the subscription has ended")
            self._commits[correlation_id] = answer
        self._send(
            pb.SubscribeRequest(
                commit=pb.CommitOffsets(correlation_id=correlation_id, offsets=wanted)
            )
        )
        try:
            response = answer.result(timeout)
        except FutureTimeout:
            with self._lock:
                self._commits.pop(correlation_id, None)
            raise TimeoutError(f"no answer to commit {correlation_id} within {timeout}s") from None
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

    def _read(self) -> None:
        end = _End(None)
        try:
            for response in self._call:
                self._dispatch(response)
        except grpc.RpcError as e:
            if not self._closing:
                end = _End(from_rpc_error(e))
        finally:
            with self._lock:
                pending, self._commits = self._commits, {}
            for answer in pending.values():
                answer.set_result(
                    pb.CommitResponse(success=False, error="the subscription ended first")
                )
            self._items.put(end)
            self._requests.put(None)

    def _dispatch(self, response: pb.SubscribeResponse) -> None:
        kind = response.WhichOneof("kind")
        if kind == "message":
            self._items.put(Message.from_pb(response.message))
        elif kind == "snapshot_complete":
            self._items.put(SnapshotComplete(dict(response.snapshot_complete.offsets)))
        elif kind == "rebalance":
            self._items.put(_Rebalance(frozenset(response.rebalance.partitions)))
        elif kind == "commit_response":
            with self._lock:
                answer = self._commits.pop(response.commit_response.correlation_id, None)
            if answer is not None:
                answer.set_result(response.commit_response)
        elif kind == "connection":
            self.connection = response.connection
        elif kind == "error":
            logger.warning("subscription: %s", response.error.reason)
