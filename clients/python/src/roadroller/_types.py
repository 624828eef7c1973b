"""Plain values the client takes and returns: records to produce, their
results, and what a subscription delivers."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
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
    """Where a stream that has committed nothing starts reading."""

    EARLIEST = pb.INITIAL_POSITION_EARLIEST
    LATEST = pb.INITIAL_POSITION_LATEST


_STATUS_CODES = {code.value[0]: code for code in grpc.StatusCode}


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


@dataclass(frozen=True)
class Message:
    """One record of a road, as a subscription delivers it.

    `payload` is the JSON text (PII blanked unless granted), `None` for a
    delete; `value` decodes it. Commit `next_offset` once it is processed.
    """

    partition: int
    offset: int
    timestamp: datetime | None
    schema_version: int
    key: str | None
    payload: str | None
    traceparent: str | None = None
    tracestate: str | None = None

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
        return cls(
            partition=m.partition,
            offset=m.offset,
            timestamp=(m.timestamp.ToDatetime(tzinfo=UTC) if m.HasField("timestamp") else None),
            schema_version=m.schema_version,
            key=m.key if m.HasField("key") else None,
            payload=m.payload if m.HasField("payload") else None,
            traceparent=m.traceparent if m.HasField("traceparent") else None,
            tracestate=m.tracestate if m.HasField("tracestate") else None,
        )


@dataclass(frozen=True)
class SnapshotComplete:
    """SNAPSHOT mode: every live key has been delivered; what follows are
    live changes, deletes included, from `offsets` (partition to offset)."""

    offsets: dict[int, int]
