import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { FieldMaskSchema } from "@bufbuild/protobuf/wkt";
import {
  type Client,
  Code,
  createClient,
  type Interceptor,
  type Transport,
} from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { readFileSync } from "node:fs";
import type { SecureClientSessionOptions } from "node:http2";
import {
  DeadlineExceededError,
  FailedPreconditionError,
  toRoadrollerError,
} from "./errors.js";
import {
  Grant,
  type Road,
  type RoadSchema,
  type RoadType,
  type Schema,
} from "./gen/roadroller/v1/roads_pb.js";
import { PaverService } from "./gen/roadroller/v1/paver_pb.js";
import { OnrampService } from "./gen/roadroller/v1/onramp_pb.js";
import {
  InitialPosition,
  OfframpService,
  SubscriptionMode,
} from "./gen/roadroller/v1/offramp_pb.js";
import { TableService } from "./gen/roadroller/v1/tables_pb.js";
import { Subscription, type SubscriptionOptions } from "./subscription.js";
import {
  type BatchGetResult,
  Entry,
  type Message,
  type MinOffsets,
  minOffsetsToPb,
  type ProduceResult,
  type RecordInput,
  recordToPb,
  resultFromPb,
} from "./types.js";

/** Road fields to set at creation, besides the name and type. */
export type RoadFields = Omit<MessageInitShape<typeof RoadSchema>, "name" | "type" | "$typeName">;

export interface ClientOptions {
  /** Bound for every unary call, in milliseconds; default 30 000. */
  timeoutMs?: number;
  /** Interceptors for every call, e.g. to add credentials as headers. */
  interceptors?: Interceptor[];
  /**
   * A bearer token, sent as `authorization: Bearer <token>` with every call,
   * streaming ones included. Default: `tokenFile`'s, else `ROADROLLER_TOKEN`.
   */
  token?: string;
  /** A file holding the bearer token, read once at construction (whitespace stripped). */
  tokenFile?: string;
  /** A PEM CA bundle (path) to trust for an `https://` server, instead of Node's roots. */
  caCert?: string;
  /** A PEM client certificate (path) for a server that asks for one; needs `clientKey`. */
  clientCert?: string;
  /** The PEM private key (path) of `clientCert`. */
  clientKey?: string;
  /** A transport of your own; `baseUrl` and the options above are then unused. */
  transport?: Transport;
}

/** The environment variable read for the bearer token when none is given. */
const TOKEN_ENV = "ROADROLLER_TOKEN";

export interface SubscribeOptions extends SubscriptionOptions {
  /**
   * Where a stream that has committed nothing starts: LATEST (the default,
   * as the contract's unset value and Kafka's `auto.offset.reset`) reads
   * only records written after the subscriber joined; EARLIEST replays the
   * road from its oldest record. A stream with commits resumes from them
   * either way.
   */
  initialPosition?: InitialPosition;
  /** Ask for fields marked PII intact instead of blanked. */
  pii?: boolean;
}

export interface SnapshotOptions extends Omit<SubscribeOptions, "initialPosition"> {
  /**
   * The `resumeToken` of the last message taken from an earlier snapshot of
   * the same materialized road (`Subscription.resumeToken`): the snapshot
   * continues after it, on this or another instance, with the same boundary
   * and then the same changes. Absent (or empty): a new snapshot.
   */
  resumeToken?: string;
}

/** Options of the lookups of a materialized road (`get`, `batchGet`). */
export interface GetOptions {
  /**
   * Read-your-writes: partition to the offset after a write the answer must
   * reflect, or the `produce` results to see (see `offsetsAfter`). The
   * server waits for its view to apply them until just before the client's
   * `timeoutMs` (and at most its own `tables.max_wait`), then rejects with
   * `FailedPreconditionError` reason `VIEW_BEHIND`.
   */
  minOffsets?: MinOffsets;
  /** Reject at once (reason `VIEW_BEHIND`) instead of waiting for `minOffsets`. */
  failIfBehind?: boolean;
  /** Ask for fields marked PII intact instead of blanked. */
  pii?: boolean;
}

/** Options of `listEntries`. */
export interface ListEntriesOptions {
  /** Only keys that start with this; default all. */
  prefix?: string;
  /** Entries fetched per call, 1 to 1 000; 0 (the default) means the server's 100. */
  pageSize?: number;
  /** Ask for fields marked PII intact instead of blanked. */
  pii?: boolean;
}

/**
 * A connection to a Roadroller server over gRPC (HTTP/2), e.g.
 * `new RoadrollerClient("http://127.0.0.1:50051")`; `https://` for TLS
 * (with `caCert` for a private CA, `clientCert` and `clientKey` for a
 * server that asks for a client certificate). Failed calls reject with a
 * `RoadrollerError` of the subclass of its code (`AlreadyExistsError`,
 * `NotFoundError`, `InvalidArgumentError` with the field violations,
 * `ResourceExhaustedError` with `retryAfterMs` for a quota,
 * `UnauthenticatedError` for missing or refused credentials,
 * `PermissionDeniedError` when the principal lacks the right, ...).
 * A materialized COMPACTED road (`setMaterialized`) is also a key/value
 * table: `get`, `batchGet` and `listEntries` read the serving instance's
 * view of it. Call `close()` when done.
 */
export class RoadrollerClient {
  /** The generated PaverService client, for calls the wrapper does not cover. */
  readonly paver: Client<typeof PaverService>;
  /** The generated OnrampService client (e.g. for ProduceStream). */
  readonly onramp: Client<typeof OnrampService>;
  /** The generated OfframpService client. */
  readonly offramp: Client<typeof OfframpService>;
  /** The generated TableService client (e.g. for the `viewOffsets` of an answer). */
  readonly tables: Client<typeof TableService>;
  private readonly sessions: Http2SessionManager | undefined;
  private readonly timeoutMs: number;

  constructor(baseUrl: string, options: ClientOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? 30_000;
    let transport = options.transport;
    if (!transport) {
      const token = resolveToken(options);
      const interceptors = [...(options.interceptors ?? [])];
      if (token !== undefined) interceptors.push(bearer(token));
      this.sessions = new Http2SessionManager(baseUrl, undefined, tlsOptions(baseUrl, options));
      transport = createGrpcTransport({ baseUrl, sessionManager: this.sessions, interceptors });
    }
    this.paver = createClient(PaverService, transport);
    this.onramp = createClient(OnrampService, transport);
    this.offramp = createClient(OfframpService, transport);
    this.tables = createClient(TableService, transport);
  }

  /** Closes the connection; open subscriptions end. */
  close(): void {
    this.sessions?.abort();
  }

  private async call<T>(run: (options: { timeoutMs: number }) => Promise<T>): Promise<T> {
    try {
      return await run({ timeoutMs: this.timeoutMs });
    } catch (e) {
      throw toRoadrollerError(e);
    }
  }

  // Roads.

  /**
   * Creates a road and resolves to it. Unset fields take the server's
   * defaults. The road starts disabled: enable it once its topic exists
   * (`waitForTopic`, then `setEnabled`).
   */
  async createRoad(name: string, type: RoadType, fields: RoadFields = {}): Promise<Road> {
    const response = await this.call((o) =>
      this.paver.createRoad({ road: { ...fields, name, type } }, o),
    );
    return response.road!;
  }

  /** The road called `name`. */
  async getRoad(name: string): Promise<Road> {
    return (await this.call((o) => this.paver.getRoad({ name }, o))).road!;
  }

  /** Every road in name order, of `type` only when given, page by page. */
  async *listRoads(type?: RoadType, pageSize = 0): AsyncIterable<Road> {
    let pageToken = "";
    do {
      const page = await this.call((o) =>
        this.paver.listRoads({ type: type ?? 0, pageSize, pageToken }, o),
      );
      yield* page.roads;
      pageToken = page.nextPageToken;
    } while (pageToken);
  }

  /**
   * Changes the fields of `road` named in `paths` (e.g. `["description"]`).
   * When `road.etag` is set and stale, rejects with `AbortedError`.
   */
  async updateRoad(road: MessageInitShape<typeof RoadSchema>, paths: string[]): Promise<Road> {
    const updateMask = create(FieldMaskSchema, { paths });
    return (await this.call((o) => this.paver.updateRoad({ road, updateMask }, o))).road!;
  }

  /** Enables (or disables) the Onramp of road `name`; needs its topic. */
  async setEnabled(name: string, enabled = true): Promise<Road> {
    return this.updateRoad({ name, enabled }, ["enabled"]);
  }

  /**
   * Marks COMPACTED road `name` materialized (or not) and resolves to it.
   * Every instance then builds a view of the road (key to latest value)
   * that `get`, `batchGet`, `listEntries` and `snapshot` read; lookups
   * answer once this instance's view is ready (`waitForTable`). Turning it
   * off drops the views. A STREAM road rejects with `InvalidArgumentError`.
   */
  async setMaterialized(name: string, materialized = true): Promise<Road> {
    return this.updateRoad({ name, materialized }, ["materialized"]);
  }

  /** Deletes a disabled road; it resolves with `deleting` set. */
  async deleteRoad(name: string, etag = ""): Promise<Road> {
    return (await this.call((o) => this.paver.deleteRoad({ name, etag }, o))).road!;
  }

  /**
   * Polls road `name` until its topic exists (`status.topicCreated`) and
   * resolves to it; rejects with `DeadlineExceededError` after `timeoutMs`.
   */
  async waitForTopic(name: string, timeoutMs = 30_000, intervalMs = 100): Promise<Road> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const road = await this.getRoad(name);
      if (road.status?.topicCreated) return road;
      if (Date.now() >= deadline) {
        const problem = road.status?.lastProblem || "no problem reported";
        throw new DeadlineExceededError(
          Code.DeadlineExceeded,
          `road "${name}" has no topic after ${timeoutMs} ms (${problem})`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  }

  /**
   * Polls materialized road `name` until this instance's view is ready
   * (`table.ready`: caught up with the end of the topic as it was when the
   * view started) and resolves to the road; rejects with
   * `DeadlineExceededError` after `timeoutMs` (with the view's
   * `lastProblem`, if any), and with `FailedPreconditionError` reason
   * `NOT_MATERIALIZED` when the road is not materialized. Records written
   * after the view started may not be applied yet: pass `minOffsets` to a
   * lookup to wait for those.
   */
  async waitForTable(name: string, timeoutMs = 30_000, intervalMs = 100): Promise<Road> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const road = await this.getRoad(name);
      if (!road.materialized) {
        throw new FailedPreconditionError(
          Code.FailedPrecondition,
          `road "${name}" is not materialized`,
          "NOT_MATERIALIZED",
        );
      }
      if (road.table?.ready) return road;
      if (Date.now() >= deadline) {
        const problem = road.table?.lastProblem || "no problem reported";
        throw new DeadlineExceededError(
          Code.DeadlineExceeded,
          `road "${name}" has no ready view after ${timeoutMs} ms (${problem})`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  }

  // Schemas.

  /**
   * Registers a JSON Schema (text, or an object encoded as JSON) as the
   * road's next version, or as `version` when given.
   */
  async registerSchema(road: string, schema: string | object, version = 0): Promise<Schema> {
    const text = typeof schema === "string" ? schema : JSON.stringify(schema);
    return (await this.call((o) => this.paver.registerSchema({ road, schema: text, version }, o)))
      .schema!;
  }

  /** Schema `version` of `road`; 0 means the latest non-deleted one. */
  async getSchema(road: string, version = 0): Promise<Schema> {
    return (await this.call((o) => this.paver.getSchema({ road, version }, o))).schema!;
  }

  /** The road's schema versions in version order. */
  async listSchemas(road: string, includeDeleted = false): Promise<Schema[]> {
    return (await this.call((o) => this.paver.listSchemas({ road, includeDeleted }, o))).schemas;
  }

  /** Soft-deletes `version`, which must be the latest non-deleted one. */
  async deleteSchema(road: string, version: number): Promise<Schema> {
    return (await this.call((o) => this.paver.deleteSchema({ road, version }, o))).schema!;
  }

  // Onramp.

  /**
   * Writes `records` to `road` in order and resolves to one result per
   * record, in the same order: accepted (on the topic: Kafka acknowledged
   * it) or rejected (with the reason and any schema violations). Records are
   * independent. Whole-call failures reject with `RoadrollerError`:
   * `NotFoundError` (no such road), `FailedPreconditionError` (road
   * disabled), `ResourceExhaustedError` (too large, or over a quota: nothing
   * was written; retry after `retryAfterMs`), `UnavailableError` (Kafka
   * unavailable).
   */
  async produce(road: string, records: Iterable<RecordInput>): Promise<ProduceResult[]> {
    const response = await this.call((o) =>
      this.onramp.produce({ road, records: [...records].map(recordToPb) }, o),
    );
    return response.results.map(resultFromPb);
  }

  // Tables.

  /**
   * The live value of `key` on materialized road `road`, read from the
   * serving instance's view; undefined when the key has none (never
   * written, or deleted). See `GetOptions` for read-your-writes.
   *
   * Rejects with `NotFoundError` (no such road), `FailedPreconditionError`
   * (reason `NOT_MATERIALIZED`: the road is not materialized, or not
   * COMPACTED; or `VIEW_BEHIND`: the view did not reach `minOffsets` in
   * time), `UnavailableError` (reason `VIEW_BUILDING`: this instance's view
   * is not ready yet, see `waitForTable`; or its Kafka reads or disk
   * failed), `InvalidArgumentError` (an empty key, or `minOffsets` naming a
   * partition the road lacks or a negative offset).
   */
  async get(road: string, key: string, options: GetOptions = {}): Promise<Entry | undefined> {
    const response = await this.call((o) =>
      this.tables.getEntry({ road, key, ...lookup(options) }, o),
    );
    return response.entry === undefined ? undefined : new Entry(response.entry);
  }

  /**
   * The live values of `keys` (up to 1 000) on materialized road `road`,
   * all read at the same offsets: one result per key asked for, in the
   * order asked (a key named twice comes twice), its `entry` undefined for
   * a key with no live value. No keys: `[]`, without a call. The options
   * and errors are those of `get`; more than 1 000 keys is
   * `InvalidArgumentError`.
   */
  async batchGet(
    road: string,
    keys: Iterable<string>,
    options: GetOptions = {},
  ): Promise<BatchGetResult[]> {
    if (typeof keys === "string") throw new TypeError("keys must be an iterable of keys, not one string");
    const wanted = [...keys];
    if (wanted.length === 0) return [];
    const response = await this.call((o) =>
      this.tables.batchGetEntries({ road, keys: wanted, ...lookup(options) }, o),
    );
    return response.results.map((r) => ({
      key: r.key,
      entry: r.entry === undefined ? undefined : new Entry(r.entry),
    }));
  }

  /**
   * The live entries of materialized road `road` in key order (by the
   * UTF-8 bytes of the key), only keys starting with `prefix` when given,
   * fetched `pageSize` at a time as the iteration needs them. Each page is
   * read at its own offsets: a key updated between pages shows its value as
   * of the page that holds it. The errors are those of `get` (a bad page
   * size is `InvalidArgumentError`), thrown from the iteration.
   */
  async *listEntries(road: string, options: ListEntriesOptions = {}): AsyncIterable<Entry> {
    const { prefix = "", pageSize = 0 } = options;
    const grants = options.pii ? [Grant.PII] : [];
    let pageToken = "";
    do {
      const page = await this.call((o) =>
        this.tables.listEntries({ road, pageSize, pageToken, keyPrefix: prefix, grants }, o),
      );
      for (const e of page.entries) yield new Entry(e);
      pageToken = page.nextPageToken;
    } while (pageToken);
  }

  // Offramp.

  /**
   * Joins `stream` of `road` (consumer group `roadroller.<road>.<stream>`),
   * an async iterable of `Message`s. The stream's subscribers share the
   * road's partitions. Delivery is at least once: commit with
   * `Subscription.commit()`, and a later subscriber resumes after the last
   * commit. A stream that has committed nothing starts at LATEST unless
   * `initialPosition` says otherwise: records written before the subscriber
   * joined are not delivered.
   */
  subscribe(road: string, stream: string, options: SubscribeOptions = {}): Subscription<Message> {
    return new Subscription<Message>(
      this.offramp,
      {
        road,
        stream,
        mode: SubscriptionMode.GROUP,
        initialPosition: options.initialPosition ?? InitialPosition.LATEST,
        grants: options.pii ? [Grant.PII] : [],
      },
      options,
    );
  }

  /**
   * Loads the current state of COMPACTED road `road`, then follows it: one
   * `Message` per live key (its latest value; deleted keys are left out),
   * then one `SnapshotComplete`, then every later change, deletes included.
   * When the road (or the caller) is at its limit of concurrent snapshots,
   * `SnapshotQueued` items come first, with the place in the queue (1 is
   * next), until the snapshot starts. It joins no consumer group and cannot
   * commit.
   *
   * On a materialized road whose view is ready, the state comes from the
   * view, keys in key order, and each snapshot message carries a
   * `resumeToken` (kept as the subscription's `resumeToken`). Starting again
   * with `options.resumeToken` set to the last one taken continues that
   * snapshot: the keys after the token's, the same boundary, then the same
   * changes. The stream then ends with `FailedPreconditionError` reason
   * `SNAPSHOT_NOT_RESUMABLE` when no such continuation can be had here (the
   * road is no longer materialized or was re-created, or this instance's
   * view has not reached the boundary yet): start a new snapshot, without a
   * token. A token the server did not give ends it with
   * `InvalidArgumentError`. The client does not reconnect by itself.
   */
  snapshot(road: string, options: SnapshotOptions = {}): Subscription {
    return new Subscription(
      this.offramp,
      {
        road,
        mode: SubscriptionMode.SNAPSHOT,
        grants: options.pii ? [Grant.PII] : [],
        resumeToken: options.resumeToken ?? "",
      },
      options,
    );
  }
}

/** The request fields of `GetOptions`. */
function lookup(options: GetOptions) {
  return {
    minOffsets:
      options.minOffsets === undefined ? undefined : { offsets: minOffsetsToPb(options.minOffsets) },
    failIfBehind: options.failIfBehind ?? false,
    grants: options.pii ? [Grant.PII] : [],
  };
}

/** The bearer token: `token`, else `tokenFile`'s contents, else `ROADROLLER_TOKEN`. */
function resolveToken(options: ClientOptions): string | undefined {
  if (options.token !== undefined && options.tokenFile !== undefined) {
    throw new TypeError("give token or tokenFile, not both");
  }
  if (options.tokenFile !== undefined) {
    const text = readFileSync(options.tokenFile, "utf8").trim();
    if (!text) throw new TypeError(`token file ${options.tokenFile} is empty`);
    return text;
  }
  if (options.token !== undefined) {
    const text = options.token.trim();
    if (!text) throw new TypeError("token is empty");
    return text;
  }
  return process.env[TOKEN_ENV]?.trim() || undefined;
}

/** Adds the token to every call that carries no `authorization` of its own. */
function bearer(token: string): Interceptor {
  return (next) => (req) => {
    if (!req.header.has("authorization")) req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  };
}

/** The HTTP/2 TLS options for `caCert`, `clientCert` and `clientKey`. */
function tlsOptions(
  baseUrl: string,
  options: ClientOptions,
): SecureClientSessionOptions | undefined {
  const { caCert, clientCert, clientKey } = options;
  if (caCert === undefined && clientCert === undefined && clientKey === undefined) return undefined;
  if (!baseUrl.startsWith("https://")) {
    throw new TypeError("caCert, clientCert and clientKey need an https:// URL");
  }
  if ((clientCert === undefined) !== (clientKey === undefined)) {
    throw new TypeError("give clientCert and clientKey together");
  }
  const tls: SecureClientSessionOptions = {};
  if (caCert !== undefined) tls.ca = readFileSync(caCert);
  if (clientCert !== undefined) tls.cert = readFileSync(clientCert);
  if (clientKey !== undefined) tls.key = readFileSync(clientKey);
  return tls;
}
