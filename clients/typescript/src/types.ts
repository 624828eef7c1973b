import { create } from "@bufbuild/protobuf";
import { type Timestamp, timestampDate } from "@bufbuild/protobuf/wkt";
import type { Code } from "@connectrpc/connect";
import {
  type Record as RecordPb,
  RecordSchema,
  type RecordResult,
} from "./gen/roadroller/v1/onramp_pb.js";
import type { RoadMessage } from "./gen/roadroller/v1/offramp_pb.js";
import type { Entry as EntryPb } from "./gen/roadroller/v1/tables_pb.js";

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

/**
 * Partition to the offset after the last accepted record of `results` (its
 * offset plus one; rejected records are skipped): the `minOffsets` that make
 * a table lookup see those writes. Empty when nothing was accepted.
 */
export function offsetsAfter(results: Iterable<ProduceResult>): Map<number, bigint> {
  const after = new Map<number, bigint>();
  for (const r of results) {
    if (!r.ok) continue;
    const next = r.offset + 1n;
    const seen = after.get(r.partition);
    if (seen === undefined || next > seen) after.set(r.partition, next);
  }
  return after;
}

/**
 * What a table lookup must have seen (read-your-writes): partition to the
 * offset after a write (the offset `produce` returned plus one), as a `Map`
 * or an object; or the results of `produce` themselves, whose accepted
 * records count (see `offsetsAfter`).
 */
export type MinOffsets =
  | ReadonlyMap<number, bigint>
  | Readonly<Record<number, bigint>>
  | Iterable<ProduceResult>;

/** `MinOffsets` as the map of a `PartitionOffsets`. */
export function minOffsetsToPb(offsets: MinOffsets): { [partition: number]: bigint } {
  const pairs: Iterable<[number, bigint]> =
    offsets instanceof Map
      ? (offsets as ReadonlyMap<number, bigint>)
      : Symbol.iterator in offsets
        ? offsetsAfter(offsets as Iterable<ProduceResult>)
        : Object.entries(offsets as Readonly<Record<number, bigint>>).map(
            ([p, o]) => [Number(p), o] as [number, bigint],
          );
  const out: { [partition: number]: bigint } = {};
  for (const [p, o] of pairs) {
    if (!Number.isInteger(p)) throw new TypeError(`partition ${p} is not an integer`);
    out[p] = BigInt(o);
  }
  return out;
}

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
  /** See `Message.resumeToken`; absent when the message carries none. */
  resumeToken?: string;
}

/**
 * One record of a road as a subscription delivers it. `payload` is the JSON
 * text exactly as the server sent it (PII blanked unless granted), undefined
 * for a delete; it is parsed only when `value` is read. Commit `nextOffset`
 * once it is processed. `JSON.stringify(message)` writes a `MessageJSON`.
 *
 * `resumeToken` is set on the snapshot messages of a materialized road
 * (served from the view), undefined on every other message: pass the last
 * one taken as `snapshot(road, { resumeToken })` to continue the snapshot
 * after it. `Subscription.resumeToken` keeps the latest for you.
 */

/** A protobuf timestamp as a `Date`, converted once and then kept. */
function asDate(t: Timestamp | Date | undefined): Date | undefined {
  return t === undefined || t instanceof Date ? t : timestampDate(t);
}

export class Message {
  readonly kind = "message";
  readonly partition: number;
  readonly offset: bigint;
  readonly schemaVersion: number;
  readonly key: string | undefined;
  readonly payload: string | undefined;
  readonly traceparent: string | undefined;
  readonly tracestate: string | undefined;
  /** The token to continue a snapshot after this message; see the class. */
  readonly resumeToken: string | undefined;
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
    this.resumeToken = m.resumeToken;
  }

  /** The Kafka record's timestamp. */
  get timestamp(): Date | undefined {
    this.#timestamp = asDate(this.#timestamp);
    return this.#timestamp;
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
      resumeToken: this.resumeToken,
    };
  }
}

/** An `Entry` as `JSON.stringify` writes it (see `Entry.toJSON`). */
export interface EntryJSON {
  key: string;
  /** The JSON text as delivered. */
  payload: string;
  schemaVersion: number;
  partition: number;
  /** See `offsetToJSON`: a number, or decimal text above 2^53 - 1. */
  offset: number | string;
  /** ISO 8601; absent when the record has none. */
  timestamp?: string;
}

/**
 * The live value of a key of a materialized road, and where it was written.
 * `payload` is the JSON text as produced (PII blanked unless asked for and
 * granted); it is parsed only when `value` is read. A deleted key has no
 * entry: lookups answer undefined for it. `JSON.stringify(entry)` writes an
 * `EntryJSON`.
 */
export class Entry {
  readonly key: string;
  readonly payload: string;
  /** The schema version the record was written with. */
  readonly schemaVersion: number;
  readonly partition: number;
  readonly offset: bigint;
  #timestamp: Timestamp | Date | undefined;

  constructor(e: EntryPb) {
    this.key = e.key;
    this.payload = e.payload;
    this.schemaVersion = e.schemaVersion;
    this.partition = e.partition;
    this.offset = e.offset;
    this.#timestamp = e.timestamp;
  }

  /** The Kafka record's timestamp. */
  get timestamp(): Date | undefined {
    this.#timestamp = asDate(this.#timestamp);
    return this.#timestamp;
  }

  /**
   * The payload parsed with `JSON.parse`. Numbers beyond double precision
   * lose digits: parse `payload` yourself for those.
   */
  get value(): unknown {
    return JSON.parse(this.payload);
  }

  /**
   * The entry for `JSON.stringify`: the offset as `offsetToJSON` writes it,
   * the timestamp in ISO 8601, the payload as its JSON text.
   */
  toJSON(): EntryJSON {
    return {
      key: this.key,
      payload: this.payload,
      schemaVersion: this.schemaVersion,
      partition: this.partition,
      offset: offsetToJSON(this.offset),
      timestamp: this.timestamp?.toISOString(),
    };
  }
}

/** The answer for one key of `RoadrollerClient.batchGet`. */
export interface BatchGetResult {
  key: string;
  /** Undefined when the key has no live value (never written, or deleted). */
  entry: Entry | undefined;
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
