"""Roadroller client: roads and schemas, produce, GROUP subscriptions with
automatic credit and commits, and snapshot-then-follow of COMPACTED roads.

::

    from roadroller import Client, Record, RoadType

    with Client("127.0.0.1:50051") as rr:
        rr.produce("prices", [Record("sku-1", {"price": 10})])
        with rr.subscribe("prices", "indexer") as sub:
            for message in sub:
                print(message.key, message.value)
                sub.commit(message)

For a secured server, give a bearer token (or `token_file`, or set
``ROADROLLER_TOKEN``) and, for a private CA, its certificate::

    Client("https://roadroller.example:50051", token=token, ca_cert="ca.pem")

The generated messages and stubs are in `roadroller.pb`.
"""

from . import pb
from ._client import Client, RecordLike
from ._errors import (
    CommitError,
    FieldViolation,
    NotFoundError,
    PermissionDeniedError,
    RoadrollerError,
    UnauthenticatedError,
)
from ._subscription import Subscription
from ._types import (
    Accepted,
    InitialPosition,
    Message,
    Record,
    Rejected,
    Result,
    RoadType,
    SnapshotComplete,
    Violation,
)

__all__ = [
    "Accepted",
    "Client",
    "CommitError",
    "FieldViolation",
    "InitialPosition",
    "Message",
    "NotFoundError",
    "PermissionDeniedError",
    "Record",
    "RecordLike",
    "Rejected",
    "Result",
    "RoadType",
    "RoadrollerError",
    "SnapshotComplete",
    "Subscription",
    "UnauthenticatedError",
    "Violation",
    "pb",
]
