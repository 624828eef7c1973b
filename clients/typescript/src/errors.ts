import { Code, ConnectError } from "@connectrpc/connect";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";

/** One field of a request the server refused, and why. */
export interface FieldViolation {
  field: string;
  description: string;
}

/** One limit a call went over (`google.rpc.QuotaFailure`), e.g. subject `road:prices`. */
export interface QuotaViolation {
  subject: string;
  description: string;
}

/**
 * A call failed with a gRPC status. `reason` is the server's stable
 * `google.rpc.ErrorInfo` reason (e.g. `ROAD_NOT_FOUND`), empty when the
 * status carried none; `violations` names each offending field of an
 * INVALID_ARGUMENT (`google.rpc.BadRequest`).
 *
 * Every failure the client reports is one of these, converted by
 * `toRoadrollerError`: a subclass per code a caller meets
 * (`InvalidArgumentError`, `NotFoundError`, `AlreadyExistsError`,
 * `PermissionDeniedError`, `UnauthenticatedError`, `FailedPreconditionError`,
 * `AbortedError`, `ResourceExhaustedError`, `DeadlineExceededError`,
 * `UnavailableError`), this class itself for the other codes.
 */
export class RoadrollerError extends Error {
  override name = "RoadrollerError";

  constructor(
    readonly code: Code,
    message: string,
    readonly reason = "",
    readonly violations: FieldViolation[] = [],
  ) {
    super(message);
  }

  /** Whether the road or schema version does not exist. */
  get isNotFound(): boolean {
    return this.code === Code.NotFound;
  }

  /** Whether the call carried no credentials, or ones the server refused. */
  get isUnauthenticated(): boolean {
    return this.code === Code.Unauthenticated;
  }

  /** Whether the credentials are valid but their principal may not make the call. */
  get isPermissionDenied(): boolean {
    return this.code === Code.PermissionDenied;
  }

  /** Converts any error from a call (`toRoadrollerError`); a `RoadrollerError` is returned as is. */
  static from(error: unknown): RoadrollerError {
    return toRoadrollerError(error);
  }
}

/** A field of the request is invalid (`Code.InvalidArgument`); see `violations`. */
export class InvalidArgumentError extends RoadrollerError {
  override name = "InvalidArgumentError";
}

/** No such road or schema version (`Code.NotFound`). */
export class NotFoundError extends RoadrollerError {
  override name = "NotFoundError";
}

/** The road or schema version exists already (`Code.AlreadyExists`). */
export class AlreadyExistsError extends RoadrollerError {
  override name = "AlreadyExistsError";
}

/**
 * The credentials are valid but their principal may not make this call
 * (`Code.PermissionDenied`).
 */
export class PermissionDeniedError extends RoadrollerError {
  override name = "PermissionDeniedError";
}

/**
 * The call carried no credentials, or ones the server refused
 * (`Code.Unauthenticated`): a missing, expired or otherwise invalid token.
 */
export class UnauthenticatedError extends RoadrollerError {
  override name = "UnauthenticatedError";
}

/**
 * The road's state forbids the call (`Code.FailedPrecondition`): e.g. it is
 * disabled, has no schema or no topic yet; a table lookup on a road that is
 * not materialized (reason `NOT_MATERIALIZED`) or whose view did not reach
 * `minOffsets` in time (`VIEW_BEHIND`); a snapshot resume token that cannot
 * be continued here (`SNAPSHOT_NOT_RESUMABLE`: start a new snapshot).
 */
export class FailedPreconditionError extends RoadrollerError {
  override name = "FailedPreconditionError";
}

/** The etag given is stale: the road changed since it was read (`Code.Aborted`). */
export class AbortedError extends RoadrollerError {
  override name = "AbortedError";
}

/**
 * A limit was reached (`Code.ResourceExhausted`): a quota (reason
 * `QUOTA_EXCEEDED`; nothing of the call was done), a request too large, too
 * many subscriptions. `retryAfterMs` is the server's advice
 * (`google.rpc.RetryInfo`), undefined when it gave none; `quotaViolations`
 * names each limit (`google.rpc.QuotaFailure`).
 */
export class ResourceExhaustedError extends RoadrollerError {
  override name = "ResourceExhaustedError";

  constructor(
    code: Code,
    message: string,
    reason = "",
    violations: FieldViolation[] = [],
    readonly retryAfterMs: number | undefined = undefined,
    readonly quotaViolations: QuotaViolation[] = [],
  ) {
    super(code, message, reason, violations);
  }
}

/**
 * No answer in time (`Code.DeadlineExceeded`): a call past the client's
 * `timeoutMs`, or `waitForTopic` past its own.
 */
export class DeadlineExceededError extends RoadrollerError {
  override name = "DeadlineExceededError";
}

/**
 * The server cannot be reached or is shutting down, or Kafka did not answer
 * (`Code.Unavailable`): retry, possibly against another instance. A table
 * lookup meets it (reason `VIEW_BUILDING`) while the instance's view of the
 * road is still being built.
 */
export class UnavailableError extends RoadrollerError {
  override name = "UnavailableError";
}

/** The server answered a commit with a failure. */
export class CommitError extends RoadrollerError {
  override name = "CommitError";
}

type ErrorClass = new (
  code: Code,
  message: string,
  reason: string,
  violations: FieldViolation[],
) => RoadrollerError;

const CLASSES = new Map<Code, ErrorClass>([
  [Code.InvalidArgument, InvalidArgumentError],
  [Code.NotFound, NotFoundError],
  [Code.AlreadyExists, AlreadyExistsError],
  [Code.PermissionDenied, PermissionDeniedError],
  [Code.Unauthenticated, UnauthenticatedError],
  [Code.FailedPrecondition, FailedPreconditionError],
  [Code.Aborted, AbortedError],
  [Code.DeadlineExceeded, DeadlineExceededError],
  [Code.Unavailable, UnavailableError],
]);

/**
 * The `RoadrollerError` for any error of a call, unary or streaming: the
 * subclass of its gRPC code, with the details of its
 * `grpc-status-details-bin` trailer (ErrorInfo, BadRequest, RetryInfo,
 * QuotaFailure). A `RoadrollerError` is returned as is.
 */
export function toRoadrollerError(error: unknown): RoadrollerError {
  if (error instanceof RoadrollerError) return error;
  const e = ConnectError.from(error);
  let reason = "";
  const violations: FieldViolation[] = [];
  let retryAfterMs: number | undefined;
  const quotaViolations: QuotaViolation[] = [];
  for (const detail of e.details) {
    if (!("type" in detail) || !("value" in detail)) continue;
    switch (detail.type) {
      case "google.rpc.ErrorInfo":
        reason = readFields(detail.value).get(1)?.[0] ?? "";
        break;
      case "google.rpc.BadRequest":
        for (const v of readMessages(detail.value, 1)) {
          const fields = readFields(v);
          violations.push({
            field: fields.get(1)?.[0] ?? "",
            description: fields.get(2)?.[0] ?? "",
          });
        }
        break;
      case "google.rpc.RetryInfo": {
        const [delay] = readMessages(detail.value, 1);
        retryAfterMs = delay === undefined ? 0 : durationMs(delay);
        break;
      }
      case "google.rpc.QuotaFailure":
        for (const v of readMessages(detail.value, 1)) {
          const fields = readFields(v);
          quotaViolations.push({
            subject: fields.get(1)?.[0] ?? "",
            description: fields.get(2)?.[0] ?? "",
          });
        }
        break;
    }
  }
  if (e.code === Code.ResourceExhausted) {
    return new ResourceExhaustedError(
      e.code,
      e.rawMessage,
      reason,
      violations,
      retryAfterMs,
      quotaViolations,
    );
  }
  const type = CLASSES.get(e.code) ?? RoadrollerError;
  return new type(e.code, e.rawMessage, reason, violations);
}

// The google.rpc details are decoded field by field: only the fields named
// above are read, the rest is skipped.

function readFields(bytes: Uint8Array): Map<number, string[]> {
  const out = new Map<number, string[]>();
  const reader = new BinaryReader(bytes);
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (wireType === WireType.LengthDelimited) {
      const value = new TextDecoder().decode(reader.bytes());
      out.set(field, [...(out.get(field) ?? []), value]);
    } else {
      reader.skip(wireType);
    }
  }
  return out;
}

function readMessages(bytes: Uint8Array, wanted: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  const reader = new BinaryReader(bytes);
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === wanted && wireType === WireType.LengthDelimited) {
      out.push(reader.bytes());
    } else {
      reader.skip(wireType);
    }
  }
  return out;
}

/** A `google.protobuf.Duration` (seconds 1, nanos 2) in whole milliseconds, rounded up. */
function durationMs(bytes: Uint8Array): number {
  let seconds = 0n;
  let nanos = 0;
  const reader = new BinaryReader(bytes);
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 1 && wireType === WireType.Varint) seconds = BigInt(reader.int64());
    else if (field === 2 && wireType === WireType.Varint) nanos = reader.int32();
    else reader.skip(wireType);
  }
  return Number(seconds) * 1000 + Math.ceil(nanos / 1_000_000);
}
