"""Errors raised by the client, with the server's stable reason and field
violations decoded from the `google.rpc` status details."""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc
from google.rpc import error_details_pb2, status_pb2

_DETAILS_KEY = "grpc-status-details-bin"


@dataclass(frozen=True)
class FieldViolation:
    """One field of a request the server refused, and why."""

    field: str
    description: str


@dataclass(eq=False)
class RoadrollerError(Exception):
    """A call failed with a gRPC status.

    `reason` is the server's stable `google.rpc.ErrorInfo` reason (for example
    ``ROAD_NOT_FOUND``), empty when the status carried none; `violations`
    names each offending field of an INVALID_ARGUMENT.
    """

    code: grpc.StatusCode
    message: str
    reason: str = ""
    violations: list[FieldViolation] = field(default_factory=list)

    def __str__(self) -> str:
        text = f"{self.message} ({self.code.name}"
        text += f", {self.reason})" if self.reason else ")"
        for v in self.violations:
            text += f"\n  {v.field}: {v.description}"
        return text


class NotFoundError(RoadrollerError):
    """The road or schema version does not exist (NOT_FOUND)."""


class UnauthenticatedError(RoadrollerError):
    """The call carried no credentials, or ones the server refused
    (UNAUTHENTICATED): a missing, expired or otherwise invalid token."""


class PermissionDeniedError(RoadrollerError):
    """The credentials are valid but their principal may not make this call
    (PERMISSION_DENIED)."""


class CommitError(RoadrollerError):
    """The server answered a commit with a failure."""


_BY_CODE: dict[grpc.StatusCode, type[RoadrollerError]] = {
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.UNAUTHENTICATED: UnauthenticatedError,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDeniedError,
}


def from_rpc_error(error: grpc.RpcError) -> RoadrollerError:
    """The `RoadrollerError` for a failed call, with its details decoded."""
    code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
    message = error.details() if hasattr(error, "details") else str(error)
    reason, violations = "", []
    trailers = error.trailing_metadata() if hasattr(error, "trailing_metadata") else None
    for key, value in trailers or ():
        if key != _DETAILS_KEY:
            continue
        status = status_pb2.Status.FromString(value)
        for detail in status.details:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                reason = info.reason
            elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                violations += [FieldViolation(v.field, v.description) for v in bad.field_violations]
    cls = _BY_CODE.get(code, RoadrollerError)
    return cls(code, message or "", reason, violations)
