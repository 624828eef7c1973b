/**
 * Roadroller client for Node.js: roads and schemas, produce, GROUP
 * subscriptions with automatic credit and commits, snapshot-then-follow of
 * COMPACTED roads, and key lookups on materialized ones, over gRPC (HTTP/2).
 *
 * ```ts
 * const rr = new RoadrollerClient("http://127.0.0.1:50051");
 * await rr.produce("prices", [{ key: "sku-1", payload: { price: 10 } }]);
 * for await (const item of rr.snapshot("prices")) {
 *   if (item.kind === "snapshotComplete") break; // loaded; live changes would follow
 *   if (item.kind === "message") console.log(JSON.stringify(item)); // offset as a number
 * }
 * ```
 *
 * A materialized COMPACTED road is a key/value table, read with
 * read-your-writes:
 *
 * ```ts
 * await rr.setMaterialized("prices");
 * await rr.waitForTable("prices");
 * const results = await rr.produce("prices", [{ key: "sku-1", payload: { price: 11 } }]);
 * const entry = await rr.get("prices", "sku-1", { minOffsets: results }); // sees the write
 * console.log(entry?.value); // { price: 11 }
 * ```
 *
 * Failures are `RoadrollerError`s, of a subclass per gRPC code
 * (`AlreadyExistsError`, `NotFoundError`, `ResourceExhaustedError`, ...).
 *
 * For a secured server, give a bearer token (or `tokenFile`, or set
 * `ROADROLLER_TOKEN`) and, for a private CA, its certificate:
 * `new RoadrollerClient("https://roadroller.example:50051", { token, caCert: "ca.pem" })`.
 *
 * The generated messages are exported too (`Road`, `RoadType`, ...).
 */
export {
  RoadrollerClient,
  type ClientOptions,
  type GetOptions,
  type ListEntriesOptions,
  type RoadFields,
  type SnapshotOptions,
  type SubscribeOptions,
} from "./client.js";
export {
  AbortedError,
  AlreadyExistsError,
  CommitError,
  DeadlineExceededError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  PermissionDeniedError,
  ResourceExhaustedError,
  RoadrollerError,
  toRoadrollerError,
  UnauthenticatedError,
  UnavailableError,
  type FieldViolation,
  type QuotaViolation,
} from "./errors.js";
export {
  DEFAULT_WINDOW,
  Subscription,
  type CommitTarget,
  type SeekTarget,
  type SubscriptionOptions,
} from "./subscription.js";
export {
  deleteRecord,
  Entry,
  Message,
  offsetsAfter,
  offsetToJSON,
  type Accepted,
  type BatchGetResult,
  type EntryJSON,
  type MessageJSON,
  type MinOffsets,
  type ProduceResult,
  type RecordInput,
  type Rejected,
  type SnapshotComplete,
  type SnapshotQueued,
  type SubscriptionItem,
  type Violation,
} from "./types.js";
export { Code } from "@connectrpc/connect";
export * from "./gen/roadroller/v1/roads_pb.js";
export * from "./gen/roadroller/v1/paver_pb.js";
export * from "./gen/roadroller/v1/onramp_pb.js";
export {
  InitialPosition,
  SubscriptionMode,
  SeekBoundary,
  OfframpService,
  type RoadMessage,
  type Connection,
  type PartitionOffsets,
} from "./gen/roadroller/v1/offramp_pb.js";
export {
  TableService,
  type Entry as EntryMessage,
  type EntryResult,
  type GetEntryResponse,
  type BatchGetEntriesResponse,
  type ListEntriesResponse,
} from "./gen/roadroller/v1/tables_pb.js";
