"""Errors raised by the client: one class per gRPC code a caller meets, each
with the server's stable reason, field violations and, for quota refusals,
when to retry, decoded from the `google.rpc` status details."""

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
    names each offending field of an INVALID_ARGUMENT. Catch a subclass for
    one code (`NotFoundError`, `AlreadyExistsError`, ...), or this for all.
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


class InvalidArgumentError(RoadrollerError):
    """The request broke a rule (INVALID_ARGUMENT); `violations` names each
    offending field. Retrying it unchanged fails again."""


class NotFoundError(RoadrollerError):
    """The road, schema version or stream does not exist (NOT_FOUND)."""


class AlreadyExistsError(RoadrollerError):
    """What the call would create exists already (ALREADY_EXISTS), e.g. a
    road of that name."""


class FailedPreconditionError(RoadrollerError):
    """The state of the road forbids the call for now (FAILED_PRECONDITION):
    e.g. producing to a disabled road or one without a schema, enabling a
    road whose topic does not exist yet, deleting an enabled road; a table
    lookup on a road that is not materialized (reason ``NOT_MATERIALIZED``)
    or whose view did not reach `min_offsets` in time (``VIEW_BEHIND``); a
    snapshot resume token that cannot be continued here
    (``SNAPSHOT_NOT_RESUMABLE``: start a new snapshot)."""


class AbortedError(RoadrollerError):
    """A write carried a stale etag (ABORTED): read the road again and retry
    on the fresh one."""


class UnauthenticatedError(RoadrollerError):
    """The call carried no credentials, or ones the server refused
    (UNAUTHENTICATED): a missing, expired or otherwise invalid token."""


class PermissionDeniedError(RoadrollerError):
    """The credentials are valid but their principal may not make this call
    (PERMISSION_DENIED)."""


@dataclass(eq=False)
class ResourceExhaustedError(RoadrollerError):
    """A limit was reached (RESOURCE_EXHAUSTED): a request too large, or a
    quota of the caller or the road (reason ``QUOTA_EXCEEDED``; nothing of
    the call was done).

    `retry_after` is how many seconds the server asks to wait before trying
    again (`google.rpc.RetryInfo`), `None` when it did not say, e.g. for a
    request that is too large whenever it is sent. `quota_violations` holds
    one ``(subject, description)`` per limit reached (`google.rpc.QuotaFailure`),
    the subject naming whose limit it is, e.g. ``road:prices``.
    """

    retry_after: float | None = None
    quota_violations: list[tuple[str, str]] = field(default_factory=list)

    def __str__(self) -> str:
        text = super().__str__()
        for subject, description in self.quota_violations:
            text += f"\n  {subject}: {description}"
        if self.retry_after is not None:
            text += f"\n  retry after {self.retry_after:g}s"
        return text


class UnavailableError(RoadrollerError):
    """The server or its Kafka could not serve the call (UNAVAILABLE), or
    the server is shutting down: retry, possibly against another instance.
    A subscription ends with it at shutdown; a GROUP stream resumes from its
    commits on a new one, a snapshot of a materialized road from its
    `resume_token`. A table lookup meets it (reason ``VIEW_BUILDING``) while
    the instance's view of the road is still being built."""


class DeadlineExceededError(RoadrollerError):
    """No answer within the call's timeout (DEADLINE_EXCEEDED). The call may
    still have taken effect on the server."""


class InternalError(RoadrollerError):
    """The server failed in a way the contract does not name (INTERNAL)."""


class CommitError(RoadrollerError):
    """The server answered a commit with a failure."""


_BY_CODE: dict[grpc.StatusCode, type[RoadrollerError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgumentError,
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExistsError,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPreconditionError,
    grpc.StatusCode.ABORTED: AbortedError,
    grpc.StatusCode.UNAUTHENTICATED: UnauthenticatedError,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDeniedError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhaustedError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceededError,
    grpc.StatusCode.INTERNAL: InternalError,
}


def from_rpc_error(error: grpc.RpcError) -> RoadrollerError:
    """The `RoadrollerError` subclass for a failed call's code, with the
    details of its ``grpc-status-details-bin`` trailer decoded. Every call
    of the client, unary or streaming, maps its failures here."""
    code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
    message = error.details() if hasattr(error, "details") else str(error)
    reason = ""
    violations: list[FieldViolation] = []
    retry_after: float | None = None
    quota_violations: list[tuple[str, str]] = []
    trailers = error.trailing_metadata() if hasattr(error, "trailing_metadata") else None
    for key, value in trailers or ():
        if key != _DETAILS_KEY:
            continue
        try:
            status = status_pb2.Status.FromString(value)
        except Exception:  # undecodable details: the code and message still stand
            continue
        for detail in status.details:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                reason = info.reason
            elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                violations += [FieldViolation(v.field, v.description) for v in bad.field_violations]
            elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                retry = error_details_pb2.RetryInfo()
                detail.Unpack(retry)
                delay = retry.retry_delay
                retry_after = delay.seconds + delay.nanos / 1e9
            elif detail.Is(error_details_pb2.QuotaFailure.DESCRIPTOR):
                quota = error_details_pb2.QuotaFailure()
                detail.Unpack(quota)
                quota_violations += [(v.subject, v.description) for v in quota.violations]
    cls = _BY_CODE.get(code, RoadrollerError)
    if cls is ResourceExhaustedError:
        return ResourceExhaustedError(
            code, message or "", reason, violations, retry_after, quota_violations
        )
    return cls(code, message or "", reason, violations)
