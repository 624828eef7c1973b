import { Code, ConnectError } from "@connectrpc/connect";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";

/** One field of a request the server refused, and why. */
export interface FieldViolation {
  field: string;
  description: string;
}

/**
 * A call failed with a gRPC status. `reason` is the server's stable
 * `google.rpc.ErrorInfo` reason (e.g. `ROAD_NOT_FOUND`), empty when the
 * status carried none; `violations` names each offending field of an
 * INVALID_ARGUMENT.
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

  /** Converts any error from a call; a `RoadrollerError` is returned as is. */
  static from(error: unknown): RoadrollerError {
    if (error instanceof RoadrollerError) return error;
    const e = ConnectError.from(error);
    let reason = "";
    const violations: FieldViolation[] = [];
    for (const detail of e.details) {
      if (!("type" in detail) || !("value" in detail)) continue;
      if (detail.type === "google.rpc.ErrorInfo") {
        reason = readFields(detail.value).get(1)?.[0] ?? "";
      } else if (detail.type === "google.rpc.BadRequest") {
        for (const v of readMessages(detail.value, 1)) {
          const fields = readFields(v);
          violations.push({
            field: fields.get(1)?.[0] ?? "",
            description: fields.get(2)?.[0] ?? "",
          });
        }
      }
    }
    const type =
      e.code === Code.Unauthenticated
        ? UnauthenticatedError
        : e.code === Code.PermissionDenied
          ? PermissionDeniedError
          : RoadrollerError;
    return new type(e.code, e.rawMessage, reason, violations);
  }
}

/**
 * The call carried no credentials, or ones the server refused
 * (`Code.Unauthenticated`): a missing, expired or otherwise invalid token.
 */
export class UnauthenticatedError extends RoadrollerError {
  override name = "UnauthenticatedError";
}

/**
 * The credentials are valid but their principal may not make this call
 * (`Code.PermissionDenied`).
 */
export class PermissionDeniedError extends RoadrollerError {
  override name = "PermissionDeniedError";
}

/** The server answered a commit with a failure. */
export class CommitError extends RoadrollerError {
  override name = "CommitError";
}

// google.rpc.ErrorInfo and BadRequest are decoded field by field: only the
// string fields named above are read, the rest is skipped.

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
