"""The client: one gRPC channel to a Roadroller server."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, cast

import grpc
from google.protobuf.field_mask_pb2 import FieldMask

from . import pb
from ._auth import BearerToken, StrPath, resolve_token, split_target, ssl_credentials
from ._errors import FailedPreconditionError, from_rpc_error
from ._subscription import DEFAULT_WINDOW, Subscription
from ._types import (
    Entry,
    InitialPosition,
    Message,
    Record,
    Result,
    RoadType,
    SnapshotComplete,
    SnapshotQueued,
    offsets_after,
    result_from_pb,
)

RecordLike = Record | tuple[str | None, Any] | Mapping[str, Any]
"""A `Record`; a ``(key, payload)`` pair; or, on a STREAM road, a payload
mapping alone."""

MinOffsets = Mapping[int, int] | Iterable[Result]
"""What a table lookup must have seen: partition to the offset after a write
(the offset `produce` returned plus one), or the results of `produce`
themselves, whose accepted records count (see `offsets_after`)."""


class Client:
    """A connection to a Roadroller server at `target` (``host:port``, or
    ``https://host:port`` for TLS).

    TLS is used for an ``https://`` target, or when `ca_cert` or
    `client_cert` is given: `ca_cert` is a PEM CA bundle to trust instead of
    the system's roots, and `client_cert` with `client_key` (PEM files) the
    certificate the client presents to a server that asks for one. Other
    channel `credentials` can be given instead (e.g.
    `grpc.ssl_channel_credentials()`); otherwise the channel is plaintext.

    `token` is a bearer token sent as ``authorization: Bearer <token>`` with
    every call, streaming ones and the generated stubs' included; or
    `token_file`, a file holding it (read once, here, whitespace stripped);
    with neither, ``$ROADROLLER_TOKEN`` when set.

    `timeout` bounds every unary call, in seconds; `metadata` is sent with
    every call. Failed calls, unary or streaming, raise the `RoadrollerError`
    subclass of their gRPC code, so that a caller can tell what to do about
    it: `AlreadyExistsError`, `NotFoundError`, `InvalidArgumentError` (with
    the field `violations`), `FailedPreconditionError`, `AbortedError` (a
    stale etag), `ResourceExhaustedError` (with `retry_after` and
    `quota_violations`), `UnavailableError`, `UnauthenticatedError` (missing
    or refused credentials), `PermissionDeniedError` (the principal lacks the
    right), ... Use it as a context manager, or call `close()`.
    """

    def __init__(
        self,
        target: str,
        *,
        credentials: grpc.ChannelCredentials | None = None,
        timeout: float | None = 30.0,
        metadata: Sequence[tuple[str, str]] = (),
        options: Sequence[tuple[str, Any]] = (),
        token: str | None = None,
        token_file: StrPath | None = None,
        ca_cert: StrPath | None = None,
        client_cert: StrPath | None = None,
        client_key: StrPath | None = None,
    ) -> None:
        target, scheme_tls = split_target(target)
        tls_files = ca_cert is not None or client_cert is not None or client_key is not None
        if tls_files and credentials is not None:
            raise ValueError("give credentials or ca_cert/client_cert/client_key, not both")
        if tls_files and scheme_tls is False:
            raise ValueError("ca_cert/client_cert/client_key need TLS, not an http:// target")
        if credentials is None and (tls_files or scheme_tls):
            credentials = ssl_credentials(ca_cert, client_cert, client_key)
        bearer = resolve_token(token, token_file)
        if bearer is not None and any(key == "authorization" for key, _ in metadata):
            if token is not None or token_file is not None:
                raise ValueError("give token/token_file or an authorization in metadata, not both")
            bearer = None  # the caller's own authorization wins over $ROADROLLER_TOKEN
        self._channel = (
            grpc.secure_channel(target, credentials, options)
            if credentials is not None
            else grpc.insecure_channel(target, options)
        )
        if bearer is not None:
            self._channel = grpc.intercept_channel(self._channel, BearerToken(bearer))
        self._timeout = timeout
        self._metadata = tuple(metadata)
        self.paver = pb.PaverServiceStub(self._channel)
        """The generated PaverService stub, for calls the wrapper does not cover."""
        self.onramp = pb.OnrampServiceStub(self._channel)
        """The generated OnrampService stub (e.g. for ProduceStream)."""
        self.offramp = pb.OfframpServiceStub(self._channel)
        """The generated OfframpService stub."""
        self.tables = pb.TableServiceStub(self._channel)
        """The generated TableService stub (e.g. for the `view_offsets` of
        an answer)."""

    def close(self) -> None:
        """Closes the channel; open subscriptions end."""
        self._channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: Callable[..., Any], request: Any) -> Any:
        try:
            return method(request, timeout=self._timeout, metadata=self._metadata)
        except grpc.RpcError as e:
            raise from_rpc_error(e) from None

    # Roads.

    def create_road(self, name: str, type: RoadType, **fields: Any) -> pb.Road:
        """Creates a road and returns it. `fields` are further `pb.Road`
        fields (``description``, ``partitions``, ``compaction``, ...); unset
        ones take the server's defaults. The road starts disabled: enable it
        once its topic exists (`wait_for_topic`, then `set_enabled`)."""
        road = pb.Road(name=name, type=cast(pb.RoadType, type), **fields)
        return self._call(self.paver.CreateRoad, pb.CreateRoadRequest(road=road)).road

    def get_road(self, name: str) -> pb.Road:
        """Returns the road called `name`."""
        return self._call(self.paver.GetRoad, pb.GetRoadRequest(name=name)).road

    def list_roads(self, type: RoadType | None = None, *, page_size: int = 0) -> Iterator[pb.Road]:
        """Yields every road in name order, of `type` only when given,
        fetching pages as needed."""
        token = ""
        while True:
            request = pb.ListRoadsRequest(
                page_size=page_size, page_token=token, type=cast(pb.RoadType, type or 0)
            )
            page = self._call(self.paver.ListRoads, request)
            yield from page.roads
            token = page.next_page_token
            if not token:
                return

    def update_road(self, road: pb.Road, paths: Sequence[str]) -> pb.Road:
        """Changes the fields of `road` named in `paths` (e.g.
        ``["description", "enabled"]``) and returns the road. When
        `road.etag` is set and stale, fails with ABORTED."""
        request = pb.UpdateRoadRequest(road=road, update_mask=FieldMask(paths=list(paths)))
        return self._call(self.paver.UpdateRoad, request).road

    def set_enabled(self, name: str, enabled: bool = True) -> pb.Road:
        """Enables (or disables) the Onramp of road `name`. A road can be
        enabled only once its topic exists."""
        return self.update_road(pb.Road(name=name, enabled=enabled), ["enabled"])

    def set_materialized(self, name: str, materialized: bool = True) -> pb.Road:
        """Marks COMPACTED road `name` materialized (or not) and returns it.
        Every instance then builds a view of the road (key to latest value)
        that `get`, `batch_get`, `list_entries` and `snapshot` read; lookups
        answer once this instance's view is ready (`wait_for_table`).
        Turning it off drops the views. A STREAM road is
        `InvalidArgumentError`."""
        return self.update_road(pb.Road(name=name, materialized=materialized), ["materialized"])

    def delete_road(self, name: str, *, etag: str = "") -> pb.Road:
        """Deletes a disabled road; it is returned with `deleting` set and
        disappears once its topic is gone."""
        return self._call(self.paver.DeleteRoad, pb.DeleteRoadRequest(name=name, etag=etag)).road

    def wait_for_topic(self, name: str, *, timeout: float = 30.0, interval: float = 0.1) -> pb.Road:
        """Polls road `name` until its topic exists (`status.topic_created`)
        and returns it; raises `TimeoutError` after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            road = self.get_road(name)
            if road.status.topic_created:
                return road
            if time.monotonic() >= deadline:
                problem = road.status.last_problem or "no problem reported"
                raise TimeoutError(f"road {name!r} has no topic after {timeout}s ({problem})")
            time.sleep(interval)

    def wait_for_table(self, name: str, *, timeout: float = 30.0, interval: float = 0.1) -> pb.Road:
        """Polls materialized road `name` until this instance's view is
        ready (`table.ready`: caught up with the end of the topic as it was
        when the view started) and returns the road; raises `TimeoutError`
        after `timeout` seconds, with the view's `last_problem` if any, and
        `FailedPreconditionError` when the road is not materialized."""
        deadline = time.monotonic() + timeout
        while True:
            road = self.get_road(name)
            if not road.materialized:
                raise FailedPreconditionError(
                    grpc.StatusCode.FAILED_PRECONDITION,
                    f"road {name!r} is not materialized",
                    "NOT_MATERIALIZED",
                )
            if road.table.ready:
                return road
            if time.monotonic() >= deadline:
                problem = road.table.last_problem or "no problem reported"
                raise TimeoutError(f"road {name!r} has no ready view after {timeout}s ({problem})")
            time.sleep(interval)

    # Schemas.

    def register_schema(
        self, road: str, schema: str | Mapping[str, Any], *, version: int = 0
    ) -> pb.Schema:
        """Registers a JSON Schema (text, or a mapping encoded as JSON) as
        the road's next version, or as `version` when given."""
        text = schema if isinstance(schema, str) else json.dumps(schema)
        request = pb.RegisterSchemaRequest(road=road, schema=text, version=version)
        return self._call(self.paver.RegisterSchema, request).schema

    def get_schema(self, road: str, version: int = 0) -> pb.Schema:
        """Returns schema `version` of `road`; 0 means the latest non-deleted."""
        request = pb.GetSchemaRequest(road=road, version=version)
        return self._call(self.paver.GetSchema, request).schema

    def list_schemas(self, road: str, *, include_deleted: bool = False) -> list[pb.Schema]:
        """Returns the road's schema versions in version order."""
        request = pb.ListSchemasRequest(road=road, include_deleted=include_deleted)
        return list(self._call(self.paver.ListSchemas, request).schemas)

    def delete_schema(self, road: str, version: int) -> pb.Schema:
        """Soft-deletes `version`, which must be the latest non-deleted one."""
        request = pb.DeleteSchemaRequest(road=road, version=version)
        return self._call(self.paver.DeleteSchema, request).schema

    # Onramp.

    def produce(self, road: str, records: Iterable[RecordLike]) -> list[Result]:
        """Writes `records` to `road` in order and returns one result per
        record, in the same order: `Accepted` (on the topic: Kafka
        acknowledged it) or `Rejected` (with the reason and any schema
        violations). Records are independent. Whole-call failures raise:
        `NotFoundError` (no such road), `FailedPreconditionError` (road
        disabled or without a schema), `ResourceExhaustedError` (too large,
        or over a quota: nothing was written; retry after `retry_after`),
        `UnavailableError` (Kafka did not acknowledge)."""
        request = pb.ProduceRequest(road=road, records=[_record(r).to_pb() for r in records])
        response = self._call(self.onramp.Produce, request)
        return [result_from_pb(r) for r in response.results]

    # Tables.

    def get(
        self,
        road: str,
        key: str,
        *,
        min_offsets: MinOffsets | None = None,
        fail_if_behind: bool = False,
        pii: bool = False,
    ) -> Entry | None:
        """The live value of `key` on materialized road `road`, read from
        the serving instance's view; `None` when the key has none (never
        written, or deleted).

        `min_offsets` asks for read-your-writes: partition to the offset
        after a write (or the results of `produce`, see `MinOffsets`). The
        server waits for its view to apply them, until just before the
        client's `timeout` (and at most its own ``tables.max_wait``), then
        fails with
        `FailedPreconditionError` reason ``VIEW_BEHIND``; with
        `fail_if_behind` it fails at once instead of waiting. `pii` asks for
        PII fields intact (blanked unless the caller holds PII).

        Raises `NotFoundError` (no such road), `FailedPreconditionError`
        (reason ``NOT_MATERIALIZED``: the road is not materialized, or not
        COMPACTED; or ``VIEW_BEHIND``), `UnavailableError` (reason
        ``VIEW_BUILDING``: this instance's view is not ready yet, see
        `wait_for_table`; or its Kafka reads or disk failed),
        `InvalidArgumentError` (an empty key, or `min_offsets` naming a
        partition the road lacks or a negative offset)."""
        request = pb.GetEntryRequest(
            road=road, key=key, fail_if_behind=fail_if_behind, grants=_grants(pii)
        )
        if min_offsets is not None:
            request.min_offsets.CopyFrom(_partition_offsets(min_offsets))
        response = self._call(self.tables.GetEntry, request)
        return Entry.from_pb(response.entry) if response.HasField("entry") else None

    def batch_get(
        self,
        road: str,
        keys: Iterable[str],
        *,
        min_offsets: MinOffsets | None = None,
        fail_if_behind: bool = False,
        pii: bool = False,
    ) -> list[tuple[str, Entry | None]]:
        """The live values of `keys` (up to 1,000) on materialized road
        `road`, all read at the same offsets: one ``(key, entry)`` per key
        asked for, in the order asked (a key named twice comes twice), the
        entry `None` for a key with no live value. No keys: ``[]``, without
        a call. `min_offsets`, `fail_if_behind`, `pii` and the errors are
        those of `get`; more than 1,000 keys is `InvalidArgumentError`."""
        if isinstance(keys, str):
            raise TypeError("keys must be an iterable of keys, not one str")
        keys = list(keys)
        if not keys:
            return []
        request = pb.BatchGetEntriesRequest(
            road=road, keys=keys, fail_if_behind=fail_if_behind, grants=_grants(pii)
        )
        if min_offsets is not None:
            request.min_offsets.CopyFrom(_partition_offsets(min_offsets))
        response = self._call(self.tables.BatchGetEntries, request)
        return [
            (r.key, Entry.from_pb(r.entry) if r.HasField("entry") else None)
            for r in response.results
        ]

    def list_entries(
        self, road: str, *, prefix: str = "", page_size: int = 0, pii: bool = False
    ) -> Iterator[Entry]:
        """Yields the live entries of materialized road `road` in key order
        (by the UTF-8 bytes of the key), only keys starting with `prefix`
        when given, fetching pages of `page_size` (1 to 1,000; 0: the
        server's 100) as needed. Each page is read at its own offsets: a key
        updated between pages shows its value as of the page that holds it.
        The errors are those of `get` (a bad page size is
        `InvalidArgumentError`), raised from the iteration."""
        token = ""
        while True:
            request = pb.ListEntriesRequest(
                road=road,
                page_size=page_size,
                page_token=token,
                key_prefix=prefix,
                grants=_grants(pii),
            )
            page = self._call(self.tables.ListEntries, request)
            for e in page.entries:
                yield Entry.from_pb(e)
            token = page.next_page_token
            if not token:
                return

    # Offramp.

    def subscribe(
        self,
        road: str,
        stream: str,
        *,
        initial_position: InitialPosition = InitialPosition.LATEST,
        pii: bool = False,
        window: int = DEFAULT_WINDOW,
        on_rebalance: Callable[[frozenset[int]], None] | None = None,
    ) -> Subscription[Message]:
        """Joins `stream` of `road` (the consumer group
        ``roadroller.<road>.<stream>``) and returns the subscription, an
        iterator of `Message`s.

        The stream's subscribers share the road's partitions; a stream that
        has committed nothing starts at `initial_position`: by default
        LATEST, only records written after the subscriber joined (the
        contract's unset position, as Kafka's ``auto.offset.reset``); pass
        `InitialPosition.EARLIEST` to read the road from its oldest record.
        Once the stream has committed, it resumes after its commits
        whatever `initial_position` says. Delivery is at least once: commit
        with `Subscription.commit()`, and a later subscriber resumes after
        the last commit. `pii` asks for PII fields intact; `window` is how
        many messages are granted ahead (see `DEFAULT_WINDOW`);
        `on_rebalance` is called with the held partitions on every change.
        """
        start = pb.StartSubscription(
            road=road,
            stream=stream,
            initial_position=cast(pb.InitialPosition, initial_position),
            mode=pb.SUBSCRIPTION_MODE_GROUP,
            grants=_grants(pii),
        )
        return Subscription[Message](
            self.offramp, start, window=window, metadata=self._metadata, on_rebalance=on_rebalance
        )

    def snapshot(
        self,
        road: str,
        *,
        pii: bool = False,
        window: int = DEFAULT_WINDOW,
        resume_token: str | None = None,
    ) -> Subscription[Message | SnapshotComplete | SnapshotQueued]:
        """Loads the current state of COMPACTED road `road`, then follows its
        changes: the subscription yields one `Message` per live key (its
        latest value; deleted keys are left out), then one
        `SnapshotComplete`, then every later change, deletes included. It
        joins no consumer group and cannot commit.

        When the road (or the caller) is at its limit of snapshots loading
        at once, this one waits in line: it first yields `SnapshotQueued`
        items with its place (1: next), then the keys once it is let in.

        On a materialized road whose view is ready the state comes from the
        view, keys in key order, and each snapshot message carries a
        `resume_token` (kept as the subscription's `resume_token`). Starting
        again with `resume_token` set to the last one taken continues that
        snapshot, on this or another instance: the keys after the token's,
        the same boundary, then the same changes. The stream then ends with
        `FailedPreconditionError` reason ``SNAPSHOT_NOT_RESUMABLE`` when no
        such continuation can be had here (the road is no longer
        materialized or was re-created, or this instance's view has not
        reached the boundary yet): start a new snapshot, without a token. A
        token the server did not give ends it with `InvalidArgumentError`.
        Absent (`None`): a new snapshot. The client does not reconnect by
        itself."""
        start = pb.StartSubscription(
            road=road,
            mode=pb.SUBSCRIPTION_MODE_SNAPSHOT,
            grants=_grants(pii),
            resume_token=resume_token or "",
        )
        return Subscription[Message | SnapshotComplete | SnapshotQueued](
            self.offramp, start, window=window, metadata=self._metadata
        )


def _grants(pii: bool) -> list[pb.Grant]:
    return [pb.GRANT_PII] if pii else []


def _partition_offsets(offsets: MinOffsets) -> pb.PartitionOffsets:
    wanted = dict(offsets) if isinstance(offsets, Mapping) else offsets_after(offsets)
    return pb.PartitionOffsets(offsets=wanted)


def _record(r: RecordLike) -> Record:
    if isinstance(r, Record):
        return r
    if isinstance(r, tuple):
        key, payload = r
        return Record(key, payload)
    if isinstance(r, Mapping):
        return Record(None, r)
    raise TypeError(f"not a record: {r!r}")


__all__ = ["Client", "MinOffsets", "RecordLike"]
