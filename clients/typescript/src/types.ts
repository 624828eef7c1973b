import { create } from "@bufbuild/protobuf";
import { type Timestamp, timestampDate } from "@bufbuild/protobuf/wkt";
import type { Code } from "@connectrpc/connect";
import {
  type Record as RecordPb,
  RecordSchema,
  type RecordResult,
} from "./gen/roadroller/v1/onramp_pb.js";
import type { RoadMessage } from "./gen/roadroller/v1/offramp_pb.js";

/**
 * One record to produce. `key` is required on a COMPACTED road and must be
 * absent on a STREAM road. `payload` is the value: a string is sent as is
 * (JSON text of an object), anything else is encoded with `JSON.stringify`.
 * An absent (or null) payload on a COMPACTED road deletes the key.
 */
export interface RecordInput {
  key?: string;
  payload?: unknown;
}

/** A delete of `key` on a COMPACTED road. */
export function deleteRecord(key: string): RecordInput {
  return { key };
}

export function recordToPb(record: RecordInput): RecordPb {
  const payload =
    record.payload === undefined || record.payload === null
      ? undefined
      : typeof record.payload === "string"
        ? record.payload
        : JSON.stringify(record.payload);
  return create(RecordSchema, { key: record.key, payload });
}

/** One way a payload fails its schema. */
export interface Violation {
  /** JSON pointer to the failing value, e.g. `/price`. */
  pointer: string;
  /** The schema keyword that failed, e.g. `type`. */
  keyword: string;
  /** JSON pointer to that keyword in the schema. */
  schemaPointer: string;
  message: string;
}

/** Kafka acknowledged the record; the offset is an int64 (`offsetToJSON` for JSON). */
export interface Accepted {
  ok: true;
  partition: number;
  offset: bigint;
  /** The schema version the payload was validated against. */
  schemaVersion: number;
}

/**
 * The record was not written (for `Code.Unavailable`: not acknowledged; it
 * may still have been written, and a retry may duplicate it).
 */
export interface Rejected {
  ok: false;
  code: Code;
  message: string;
  /** The schema violations, up to the server's cap. */
  violations: Violation[];
  /** How many violations were found in all. */
  violationCount: number;
}

/** The outcome of one produced record. */
export type ProduceResult = Accepted | Rejected;

export function resultFromPb(result: RecordResult): ProduceResult {
  const r = result.result;
  if (r.case === "accepted") {
    const { partition, offset, schemaVersion } = r.value;
    return { ok: true, partition, offset, schemaVersion };
  }
  const rejected = r.value;
  return {
    ok: false,
    code: (rejected?.code ?? 2) as Code,
    message: rejected?.message ?? "no result",
    violations: (rejected?.violations ?? []).map((v) => ({
      pointer: v.pointer,
      keyword: v.keyword,
      schemaPointer: v.schemaPointer,
      message: v.message,
    })),
    violationCount: rejected?.violationCount ?? 0,
  };
}

/**
 * An offset as JSON: a number while it is a safe integer (up to
 * `Number.MAX_SAFE_INTEGER`, 2^53 - 1), else its decimal text, so that no
 * int64 offset is ever rounded. `BigInt(json)` reads either form back
 * exactly.
 */
export function offsetToJSON(offset: bigint): number | string {
  const n = Number(offset);
  return Number.isSafeInteger(n) ? n : offset.toString();
}

/** A `Message` as `JSON.stringify` writes it (see `Message.toJSON`). */
export interface MessageJSON {
  kind: "message";
  partition: number;
  /** See `offsetToJSON`: a number, or decimal text above 2^53 - 1. */
  offset: number | string;
  /** ISO 8601, e.g. `2026-01-31T12:00:00.000Z`; absent when the record has none. */
  timestamp?: string;
  schemaVersion: number;
  key?: string;
  /** The JSON text as delivered; absent for a delete. */
  payload?: string;
  traceparent?: string;
  tracestate?: string;
}

/**
 * One record of a road as a subscription delivers it. `payload` is the JSON
 * text exactly as the server sent it (PII blanked unless granted), undefined
 * for a delete; it is parsed only when `value` is read. Commit `nextOffset`
 * once it is processed. `JSON.stringify(message)` writes a `MessageJSON`.
 */
export class Message {
  readonly kind = "message";
  readonly partition: number;
  readonly offset: bigint;
  readonly schemaVersion: number;
  readonly key: string | undefined;
  readonly payload: string | undefined;
  readonly traceparent: string | undefined;
  readonly tracestate: string | undefined;
  #timestamp: Timestamp | Date | undefined;

  constructor(m: RoadMessage) {
    this.partition = m.partition;
    this.offset = m.offset;
    this.#timestamp = m.timestamp;
    this.schemaVersion = m.schemaVersion;
    this.key = m.key;
    this.payload = m.payload;
    this.traceparent = m.traceparent;
    this.tracestate = m.tracestate;
  }

  /** The Kafka record's timestamp. */
  get timestamp(): Date | undefined {
    const t = this.#timestamp;
    if (t === undefined || t instanceof Date) return t;
    const date = timestampDate(t);
    this.#timestamp = date;
    return date;
  }

  /** Whether this is a delete (a tombstone on a COMPACTED road). */
  get isDelete(): boolean {
    return this.payload === undefined;
  }

  /**
   * The payload parsed with `JSON.parse`; undefined for a delete. Numbers
   * beyond double precision lose digits: parse `payload` yourself for those.
   */
  get value(): unknown {
    return this.payload === undefined ? undefined : JSON.parse(this.payload);
  }

  /** The offset to commit once this message is processed. */
  get nextOffset(): bigint {
    return this.offset + 1n;
  }

  /**
   * The message for `JSON.stringify`: the offset as `offsetToJSON` writes
   * it, the timestamp in ISO 8601, the payload as its JSON text.
   */
  toJSON(): MessageJSON {
    return {
      kind: this.kind,
      partition: this.partition,
      offset: offsetToJSON(this.offset),
      timestamp: this.timestamp?.toISOString(),
      schemaVersion: this.schemaVersion,
      key: this.key,
      payload: this.payload,
      traceparent: this.traceparent,
      tracestate: this.tracestate,
    };
  }
}

/**
 * SNAPSHOT mode: every live key has been delivered; what follows are live
 * changes, deletes included, from `offsets` (partition to offset).
 * `JSON.stringify` writes the offsets as an object, partition to
 * `offsetToJSON(offset)`.
 */
export interface SnapshotComplete {
  kind: "snapshotComplete";
  offsets: Map<number, bigint>;
  toJSON(): { kind: "snapshotComplete"; offsets: Record<number, number | string> };
}

export function snapshotComplete(offsets: Map<number, bigint>): SnapshotComplete {
  return {
    kind: "snapshotComplete",
    offsets,
    toJSON() {
      const json: Record<number, number | string> = {};
      for (const [p, o] of this.offsets) json[p] = offsetToJSON(o);
      return { kind: this.kind, offsets: json };
    },
  };
}

/**
 * SNAPSHOT mode: the road (or the caller) is at its limit of concurrent
 * snapshots and this one waits its turn; `place` 1 is the next to start.
 * Sent on arrival and whenever the place changes; the snapshot's messages
 * follow once it starts. A snapshot that waits past the server's limit ends
 * with `ResourceExhaustedError`.
 */
export interface SnapshotQueued {
  kind: "snapshotQueued";
  place: number;
}

/** What a subscription yields. */
export type SubscriptionItem = Message | SnapshotComplete | SnapshotQueued;
