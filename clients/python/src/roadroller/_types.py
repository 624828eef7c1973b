"""Plain values the client takes and returns: records to produce, their
results, what a subscription delivers, and the entries of a materialized
road."""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc

from . import pb


class RoadType(enum.IntEnum):
    """The two kinds of road."""

    STREAM = pb.ROAD_TYPE_STREAM
    """Events on a topic whose records expire; records carry no key."""
    COMPACTED = pb.ROAD_TYPE_COMPACTED
    """A key/value table: every record has a key, a delete removes it."""


class InitialPosition(enum.IntEnum):
    """Where a stream that has committed nothing starts reading. LATEST is
    the default, as the contract's unset position, Kafka's
    ``auto.offset.reset`` and the Data Highway API have it."""

    EARLIEST = pb.INITIAL_POSITION_EARLIEST
    """The oldest record still on the road: replays it."""
    LATEST = pb.INITIAL_POSITION_LATEST
    """Only records written after the subscriber joined."""


_STATUS_CODES = {code.value[0]: code for code in grpc.StatusCode}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Record:
    """One record to produce.

    `key` is required on a COMPACTED road and must be absent on a STREAM road.
    `payload` is the value: a `str` is sent as is (it must be JSON text of an
    object), anything else is encoded with `json.dumps`. A payload of `None`
    on a COMPACTED road deletes the key (a tombstone).
    """

    key: str | None = None
    payload: Any = None

    @classmethod
    def delete(cls, key: str) -> Record:
        """A delete of `key` on a COMPACTED road."""
        return cls(key, None)

    def to_pb(self) -> pb.Record:
        record = pb.Record()
        if self.key is not None:
            record.key = self.key
        if self.payload is not None:
            record.payload = (
                self.payload if isinstance(self.payload, str) else json.dumps(self.payload)
            )
        return record


@dataclass(frozen=True)
class Accepted:
    """Kafka acknowledged the record at `partition` and `offset`.

    `schema_version` is the version the payload was validated against; zero
    for a delete.
    """

    partition: int
    offset: int
    schema_version: int
    ok = True


@dataclass(frozen=True)
class Violation:
    """One way a payload fails its schema: the JSON pointer of the failing
    value, the schema keyword, and that keyword's pointer in the schema."""

    pointer: str
    keyword: str
    schema_pointer: str
    message: str


@dataclass(frozen=True)
class Rejected:
    """The record was not written; for UNAVAILABLE, not acknowledged (it may
    still have been written, and a retry may duplicate it).

    `violations` holds the schema violations up to the server's cap;
    `violation_count` counts them all.
    """

    code: grpc.StatusCode
    message: str
    violations: list[Violation] = field(default_factory=list)
    violation_count: int = 0
    ok = False


Result = Accepted | Rejected
"""The outcome of one produced record; `result.ok` tells which."""


def offsets_after(results: Iterable[Result]) -> dict[int, int]:
    """Partition to the offset after the last `Accepted` record of
    `results` (the highest offset plus one; `Rejected` ones are skipped):
    the `min_offsets` that make a table lookup see those writes. Empty when
    nothing was accepted."""
    after: dict[int, int] = {}
    for r in results:
        if isinstance(r, Accepted):
            after[r.partition] = max(after.get(r.partition, 0), r.offset + 1)
    return after


def result_from_pb(result: pb.RecordResult) -> Result:
    if result.WhichOneof("result") == "accepted":
        a = result.accepted
        return Accepted(a.partition, a.offset, a.schema_version)
    r = result.rejected
    return Rejected(
        _STATUS_CODES.get(r.code, grpc.StatusCode.UNKNOWN),
        r.message,
        [Violation(v.pointer, v.keyword, v.schema_pointer, v.message) for v in r.violations],
        r.violation_count,
    )


@dataclass(frozen=True, slots=True)
class Message:
    """One record of a road, as a subscription delivers it.

    `payload` is the JSON text exactly as the server sent it (PII blanked
    unless granted), `None` for a delete; `value` decodes it, on each access,
    so that a caller who only forwards the text never pays for parsing.
    Commit `next_offset` once it is processed.

    `resume_token` is set on the snapshot messages of a materialized road
    (served from the view), `None` on every other message: pass the last one
    taken to `Client.snapshot(resume_token=...)` to continue the snapshot
    after it. `Subscription.resume_token` keeps the latest for you.
    """

    partition: int
    offset: int
    timestamp_ms: int | None
    """The Kafka record's timestamp in milliseconds since the epoch."""
    schema_version: int
    key: str | None
    payload: str | None
    traceparent: str | None = None
    tracestate: str | None = None
    resume_token: str | None = None

    @property
    def timestamp(self) -> datetime | None:
        """The Kafka record's timestamp (UTC); built when asked for, not for
        every message received."""
        if self.timestamp_ms is None:
            return None
        return _EPOCH + timedelta(milliseconds=self.timestamp_ms)

    @property
    def is_delete(self) -> bool:
        """Whether this is a delete (a tombstone on a COMPACTED road)."""
        return self.payload is None

    @property
    def value(self) -> Any:
        """The decoded payload; `None` for a delete."""
        return None if self.payload is None else json.loads(self.payload)

    @property
    def next_offset(self) -> int:
        """The offset to commit once this message is processed."""
        return self.offset + 1

    @classmethod
    def from_pb(cls, m: pb.RoadMessage) -> Message:
        # Runs once per record received: plain field reads only.
        has = m.HasField
        if has("timestamp"):
            t = m.timestamp
            timestamp_ms: int | None = t.seconds * 1000 + t.nanos // 1_000_000
        else:
            timestamp_ms = None
        return cls(
            m.partition,
            m.offset,
            timestamp_ms,
            m.schema_version,
            m.key if has("key") else None,
            m.payload if has("payload") else None,
            m.traceparent if has("traceparent") else None,
            m.tracestate if has("tracestate") else None,
            m.resume_token if has("resume_token") else None,
        )


@dataclass(frozen=True, slots=True)
class Entry:
    """The live value of a key of a materialized road, and where it was
    written.

    `payload` is the JSON text as produced (PII blanked unless asked for and
    granted); `value` decodes it, on each access. A deleted key has no entry:
    lookups answer `None` for it rather than an entry.
    """

    key: str
    payload: str
    schema_version: int
    """The schema version the record was written with."""
    partition: int
    offset: int
    timestamp_ms: int | None
    """The Kafka record's timestamp in milliseconds since the epoch; `None`
    when the server sent none."""

    @property
    def timestamp(self) -> datetime | None:
        """The Kafka record's timestamp (UTC), `None` when the server sent
        none."""
        if self.timestamp_ms is None:
            return None
        return _EPOCH + timedelta(milliseconds=self.timestamp_ms)

    @property
    def value(self) -> Any:
        """The decoded payload."""
        return json.loads(self.payload)

    @classmethod
    def from_pb(cls, e: pb.Entry) -> Entry:
        if e.HasField("timestamp"):
            t = e.timestamp
            timestamp_ms: int | None = t.seconds * 1000 + t.nanos // 1_000_000
        else:
            timestamp_ms = None
        return cls(e.key, e.payload, e.schema_version, e.partition, e.offset, timestamp_ms)


@dataclass(frozen=True)
class SnapshotComplete:
    """SNAPSHOT mode: every live key has been delivered; what follows are
    live changes, deletes included, from `offsets` (partition to offset)."""

    offsets: dict[int, int]


@dataclass(frozen=True)
class SnapshotQueued:
    """SNAPSHOT mode: the road (or the caller) is at its limit of snapshots
    loading at once, so this one waits its turn; `place` is 1 for the next
    to start. Sent before loading starts and again whenever the place
    changes; the snapshot's messages follow once it is let in. Nothing needs
    doing about it: keep iterating (a wait past the server's limit ends the
    subscription with `ResourceExhaustedError`)."""

    place: int
