import { create } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
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

/** Kafka acknowledged the record; the offset is an int64. */
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
 * One record of a road as a subscription delivers it. `payload` is the JSON
 * text (PII blanked unless granted), undefined for a delete. Commit
 * `nextOffset` once it is processed.
 */
export class Message {
  readonly kind = "message";
  readonly partition: number;
  readonly offset: bigint;
  readonly timestamp: Date | undefined;
  readonly schemaVersion: number;
  readonly key: string | undefined;
  readonly payload: string | undefined;
  readonly traceparent: string | undefined;
  readonly tracestate: string | undefined;

  constructor(m: RoadMessage) {
    this.partition = m.partition;
    this.offset = m.offset;
    this.timestamp = m.timestamp ? timestampDate(m.timestamp) : undefined;
    this.schemaVersion = m.schemaVersion;
    this.key = m.key;
    this.payload = m.payload;
    this.traceparent = m.traceparent;
    this.tracestate = m.tracestate;
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
}

/**
 * SNAPSHOT mode: every live key has been delivered; what follows are live
 * changes, deletes included, from `offsets` (partition to offset).
 */
export interface SnapshotComplete {
  kind: "snapshotComplete";
  offsets: Map<number, bigint>;
}

/** What a subscription yields. */
export type SubscriptionItem = Message | SnapshotComplete;
