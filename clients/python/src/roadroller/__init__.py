"""Roadroller client: roads and schemas, produce, GROUP subscriptions with
automatic credit and commits, and snapshot-then-follow of COMPACTED roads.

::

    from roadroller import Client, InitialPosition, Record

    with Client("127.0.0.1:50051") as rr:
        rr.produce("prices", [Record("sku-1", {"price": 10})])
        # A new stream starts at LATEST by default: ask for what is there.
        with rr.subscribe("prices", "indexer", initial_position=InitialPosition.EARLIEST) as sub:
            for message in sub:
                print(message.key, message.value)
                sub.commit(message)

Failed calls raise the `RoadrollerError` subclass of their gRPC code
(`NotFoundError`, `AlreadyExistsError`, `InvalidArgumentError`,
`ResourceExhaustedError` with `retry_after`, ...).

For a secured server, give a bearer token (or `token_file`, or set
``ROADROLLER_TOKEN``) and, for a private CA, its certificate::

    Client("https://roadroller.example:50051", token=token, ca_cert="ca.pem")

The generated messages and stubs are in `roadroller.pb`.
"""

from . import pb
from ._client import Client, RecordLike
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
    InitialPosition,
    Message,
    Record,
    Rejected,
    Result,
    RoadType,
    SnapshotComplete,
    SnapshotQueued,
    Violation,
)

__all__ = [
    "DEFAULT_WINDOW",
    "AbortedError",
    "Accepted",
    "AlreadyExistsError",
    "Client",
    "CommitError",
    "DeadlineExceededError",
    "FailedPreconditionError",
    "FieldViolation",
    "InitialPosition",
    "InternalError",
    "InvalidArgumentError",
    "Message",
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
    "pb",
]
