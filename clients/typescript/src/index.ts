/**
 * Roadroller client for Node.js: roads and schemas, produce, GROUP
 * subscriptions with automatic credit and commits, and snapshot-then-follow
 * of COMPACTED roads, over gRPC (HTTP/2).
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
 * Failures are `RoadrollerError`s, of a subclass per gRPC code
 * (`AlreadyExistsError`, `NotFoundError`, `ResourceExhaustedError`, ...).
 *
 * For a secured server, give a bearer token (or `tokenFile`, or set
 * `ROADROLLER_TOKEN`) and, for a private CA, its certificate:
 * `new RoadrollerClient("https://roadroller.example:50051", { token, caCert: "ca.pem" })`.
 *
 * The generated messages are exported too (`Road`, `RoadType`, ...).
 */
export { RoadrollerClient, type ClientOptions, type RoadFields, type SubscribeOptions } from "./client.js";
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
  Message,
  offsetToJSON,
  type Accepted,
  type MessageJSON,
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
} from "./gen/roadroller/v1/offramp_pb.js";
