"""Roadroller client: roads and schemas, produce, GROUP subscriptions with
automatic credit and commits, snapshot-then-follow of COMPACTED roads (with
resume tokens on materialized ones), and key lookups on materialized roads.

::

    from roadroller import Client, InitialPosition, Record

    with Client("127.0.0.1:50051") as rr:
        rr.produce("prices", [Record("sku-1", {"price": 10})])
        # A new stream starts at LATEST by default: ask for what is there.
        with rr.subscribe("prices", "indexer", initial_position=InitialPosition.EARLIEST) as sub:
            for message in sub:
                print(message.key, message.value)
                sub.commit(message)

A materialized COMPACTED road answers key lookups, with read-your-writes::

    rr.set_materialized("prices")
    rr.wait_for_table("prices")
    results = rr.produce("prices", [Record("sku-1", {"price": 11})])
    entry = rr.get("prices", "sku-1", min_offsets=results)  # None when it has no live value

Failed calls raise the `RoadrollerError` subclass of their gRPC code
(`NotFoundError`, `AlreadyExistsError`, `InvalidArgumentError`,
`ResourceExhaustedError` with `retry_after`, ...).

For a secured server, give a bearer token (or `token_file`, or set
``ROADROLLER_TOKEN``) and, for a private CA, its certificate::

    Client("https://roadroller.example:50051", token=token, ca_cert="ca.pem")

The generated messages and stubs are in `roadroller.pb`.
"""

from . import pb
from ._client import Client, MinOffsets, RecordLike
from ._errors import (
    AbortedError,
    AlreadyExistsError,
    CommitError,
    DeadlineExceededError,
    FailedPreconditionError,
    FieldViolation,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    ResourceExhaustedError,
    RoadrollerError,
    UnauthenticatedError,
    UnavailableError,
)
from ._subscription import DEFAULT_WINDOW, Subscription
from ._types import (
    Accepted,
    Entry,
    InitialPosition,
    Message,
    Record,
    Rejected,
    Result,
    RoadType,
    SnapshotComplete,
    SnapshotQueued,
    Violation,
    offsets_after,
)

__all__ = [
    "DEFAULT_WINDOW",
    "AbortedError",
    "Accepted",
    "AlreadyExistsError",
    "Client",
    "CommitError",
    "DeadlineExceededError",
    "Entry",
    "FailedPreconditionError",
    "FieldViolation",
    "InitialPosition",
    "InternalError",
    "InvalidArgumentError",
    "Message",
    "MinOffsets",
    "NotFoundError",
    "PermissionDeniedError",
    "Record",
    "RecordLike",
    "Rejected",
    "ResourceExhaustedError",
    "Result",
    "RoadType",
    "RoadrollerError",
    "SnapshotComplete",
    "SnapshotQueued",
    "Subscription",
    "UnauthenticatedError",
    "UnavailableError",
    "Violation",
    "offsets_after",
    "pb",
]
