import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import {
  type CommitResponse,
  type Connection,
  OfframpService,
  SeekBoundary,
  SeekPositionSchema,
  StartSubscriptionSchema,
  type SubscribeRequestSchema,
  type SubscribeResponse,
} from "./gen/roadroller/v1/offramp_pb.js";
import { CommitError, type RoadrollerError, toRoadrollerError } from "./errors.js";
import { Queue } from "./queue.js";
import { Message, snapshotComplete, type SubscriptionItem } from "./types.js";

type Request = MessageInitShape<typeof SubscribeRequestSchema>;

type Event =
  | SubscriptionItem
  | { kind: "rebalance"; partitions: ReadonlySet<number> }
  | { kind: "end"; error?: RoadrollerError };

/** Where `Subscription.seek()` moves the read position. */
export type SeekTarget = "beginning" | "end" | Date | Map<number, bigint>;

/** What `Subscription.commit()` commits. */
export type CommitTarget = Message | Map<number, bigint>;

/**
 * The default credit window. The half still granted when a top-up is sent
 * must cover the messages already on their way (the server's and HTTP/2's
 * buffers hold several thousand small ones) and the top-up's trip: a
 * server that runs out of credit pauses its partitions, and resuming them
 * costs a Kafka fetch wait.
 */
export const DEFAULT_WINDOW = 32_768;

export interface SubscriptionOptions {
  /**
   * Messages granted ahead of what has been taken; default
   * `DEFAULT_WINDOW` (32 768). Half a window is granted again each time half
   * a window has been taken, in one request. The client buffers at most a
   * window of messages for a reader that does not keep up: lower it for
   * large payloads, at the cost of throughput.
   */
  window?: number;
  /** Called with the held partitions on every change of assignment. */
  onRebalance?: (partitions: ReadonlySet<number>) => void;
  /** Called with each non-fatal problem the server reports. */
  onError?: (reason: string) => void;
}

/**
 * An open subscription: one Offramp stream, iterated with `for await`.
 *
 * In GROUP mode the items are `Message`s (`Subscription<Message>`). In
 * SNAPSHOT mode they are one `Message` per live key, then a
 * `SnapshotComplete`, then every later change (deletes included) as
 * `Message`s; `SnapshotQueued` items come first while the snapshot waits for
 * its turn. A snapshot of a materialized road keeps the token to continue it
 * from in `resumeToken`.
 *
 * Credit is managed for you: at most `window` messages are granted ahead of
 * what has been taken, and half a window more each time half a window has
 * been taken. Call `close()` to leave (leaving a `for await` loop early
 * also does). Iteration ends when the server ends the stream, and throws
 * the `RoadrollerError` of its status when it ends it with an error
 * (`UnavailableError` at server shutdown: reconnect, and a GROUP stream
 * resumes from its commits, a snapshot of a materialized road from its
 * `resumeToken`; `ResourceExhaustedError` at a limit of subscriptions;
 * `NotFoundError`, `InvalidArgumentError`, ...).
 */
export class Subscription<Item extends SubscriptionItem = SubscriptionItem>
  implements AsyncIterable<Item>
{
  /** Who serves the subscription, once the server said so. */
  connection: Connection | undefined;
  /** The partitions held, as of the items taken so far. */
  partitions: ReadonlySet<number> = new Set();
  /**
   * SNAPSHOT mode on a materialized road: the `resumeToken` of the last
   * message taken (the one the subscription started from until then);
   * undefined while no message has carried one (GROUP mode, or a snapshot
   * read from the topic). Keep it and pass it to
   * `RoadrollerClient.snapshot(road, { resumeToken })` to continue after
   * what was taken: the remaining keys, the same boundary, then the same
   * changes (so changes taken after the boundary come again). The client
   * does not reconnect by itself.
   */
  resumeToken: string | undefined;

  private readonly requests = new Queue<Request>();
  private readonly events = new Queue<Event>();
  private readonly commits = new Map<string, (response: CommitResponse) => void>();
  private readonly abort = new AbortController();
  /** Partition to the last message taken from it. */
  private readonly delivered = new Map<number, Message>();
  private readonly window: number;
  /** Taken messages that trigger a top-up: half the window. */
  private readonly topUp: number;
  private readonly pump: Promise<void>;
  private nextCorrelation = 1;
  private taken = 0;
  private paused = false;
  private closing = false;
  private ended: { error?: RoadrollerError } | undefined;

  /** Opens the stream; use `RoadrollerClient.subscribe()` or `.snapshot()`. */
  constructor(
    offramp: Client<typeof OfframpService>,
    start: MessageInitShape<typeof StartSubscriptionSchema>,
    private readonly options: SubscriptionOptions = {},
  ) {
    this.window = options.window ?? DEFAULT_WINDOW;
    if (!Number.isInteger(this.window) || this.window < 1) {
      throw new RangeError("window must be a positive integer");
    }
    this.topUp = Math.max(1, Math.floor(this.window / 2));
    this.resumeToken = start.resumeToken || undefined;
    const opening = create(StartSubscriptionSchema, {
      ...start,
      initialCredit: BigInt(this.window),
      // Records in runs: each response costs the runtime far more than
      // the records in it.
      batchMessages: true,
    });
    this.requests.push({ kind: { case: "start", value: opening } });
    this.pump = this.read(offramp.subscribe(this.requests, { signal: this.abort.signal }));
  }

  /**
   * Yields items until the stream ends. Leaving the loop early (`break`,
   * `return`, a throw) closes the subscription; take items with `next()` to
   * keep it open instead.
   */
  async *[Symbol.asyncIterator](): AsyncIterator<Item> {
    let ended = false;
    try {
      for (;;) {
        const item = await this.next();
        if (item === undefined) {
          ended = true;
          return;
        }
        yield item;
      }
    } finally {
      if (!ended) await this.close();
    }
  }

  /**
   * The next item, waiting at most `timeoutMs` (forever when undefined);
   * undefined on timeout or once the stream has ended. Throws
   * `RoadrollerError` when the server ended the stream with an error.
   */
  async next(timeoutMs?: number): Promise<Item | undefined> {
    const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
    for (;;) {
      if (this.ended) {
        if (this.ended.error) throw this.ended.error;
        return undefined;
      }
      let event = this.events.take();
      if (event === undefined) {
        const left = deadline === undefined ? undefined : Math.max(0, deadline - Date.now());
        event = await this.events.shift(left);
        if (event === undefined) return undefined;
      }
      switch (event.kind) {
        case "end":
          this.ended = event;
          break;
        case "rebalance":
          this.partitions = event.partitions;
          for (const p of [...this.delivered.keys()]) {
            if (!event.partitions.has(p)) this.delivered.delete(p);
          }
          this.options.onRebalance?.(event.partitions);
          break;
        case "message":
          this.delivered.set(event.partition, event);
          if (event.resumeToken !== undefined) this.resumeToken = event.resumeToken;
          this.tookOne();
          return event as Item;
        case "snapshotComplete":
        case "snapshotQueued":
          return event as Item;
      }
    }
  }

  /**
   * Drops the credit to zero: no more messages arrive (those already sent
   * are still delivered) until `resume()`. The subscriber keeps its
   * partitions however long it pauses.
   */
  pause(): void {
    this.paused = true;
    this.taken = 0;
    this.send({ kind: { case: "cancel", value: {} } });
  }

  /** Grants a full window of credit again after `pause()`. */
  resume(): void {
    this.paused = false;
    this.taken = 0;
    this.send({ kind: { case: "request", value: { count: BigInt(this.window) } } });
  }

  /**
   * Commits offsets for the stream and resolves once the server answered.
   * With no argument, commits every message taken so far from the
   * partitions still held; with a `Message`, commits up to and including
   * it; with a map, those partitions to those next offsets. Resolves to
   * what was committed; rejects with `CommitError` when the server refused
   * (e.g. a partition not held, or a SNAPSHOT subscription).
   */
  async commit(target?: CommitTarget, timeoutMs = 30_000): Promise<Map<number, bigint>> {
    const offsets =
      target === undefined
        ? new Map([...this.delivered].map(([p, m]) => [p, m.nextOffset]))
        : target instanceof Message
          ? new Map([[target.partition, target.nextOffset]])
          : new Map(target);
    if (offsets.size === 0) return offsets;
    if (this.ended || this.closing) {
      throw new CommitError(Code.Canceled, "the subscription has ended");
    }
    const correlationId = String(this.nextCorrelation++);
    const answered = new Promise<CommitResponse>((resolve) => {
      this.commits.set(correlationId, resolve);
    });
    this.send({
      kind: { case: "commit", value: { correlationId, offsets: Object.fromEntries(offsets) } },
    });
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), timeoutMs);
    });
    const response = await Promise.race([answered, timedOut]).finally(() => clearTimeout(timer));
    if (response === undefined) {
      this.commits.delete(correlationId);
      throw new CommitError(Code.DeadlineExceeded, `no answer to commit ${correlationId} within ${timeoutMs} ms`);
    }
    if (!response.success) {
      throw new CommitError(Code.FailedPrecondition, response.error);
    }
    return offsets;
  }

  /**
   * Moves the read position of the held partitions: `"beginning"`, `"end"`,
   * the first record at or after a `Date`, or explicit partition offsets.
   * Messages already sent are still delivered.
   */
  seek(to: SeekTarget): void {
    const position =
      to === "beginning" || to === "end"
        ? create(SeekPositionSchema, {
            to: {
              case: "boundary",
              value: to === "beginning" ? SeekBoundary.BEGINNING : SeekBoundary.END,
            },
          })
        : to instanceof Date
          ? create(SeekPositionSchema, { to: { case: "timestamp", value: timestampFromDate(to) } })
          : create(SeekPositionSchema, {
              to: { case: "offsets", value: { offsets: Object.fromEntries(to) } },
            });
    this.send({ kind: { case: "seek", value: position } });
  }

  /**
   * Leaves the stream; in GROUP mode the consumer leaves its group.
   * Uncommitted messages are delivered again to the stream's next
   * subscriber.
   */
  async close(): Promise<void> {
    if (this.closing) return this.pump;
    this.closing = true;
    this.requests.close();
    this.abort.abort();
    return this.pump;
  }

  private tookOne(): void {
    this.taken += 1;
    if (this.paused || this.taken < this.topUp) return;
    const count = this.taken;
    this.taken = 0;
    this.send({ kind: { case: "request", value: { count: BigInt(count) } } });
  }

  private send(request: Request): void {
    if (!this.closing) this.requests.push(request);
  }

  private async read(responses: AsyncIterable<SubscribeResponse>): Promise<void> {
    let end: Event = { kind: "end" };
    try {
      for await (const response of responses) this.dispatch(response);
    } catch (e) {
      const canceled = ConnectError.from(e).code === Code.Canceled;
      if (!(this.closing && canceled)) {
        end = { kind: "end", error: toRoadrollerError(e) };
      }
    } finally {
      for (const answer of this.commits.values()) {
        answer({ success: false, error: "the subscription ended first" } as CommitResponse);
      }
      this.commits.clear();
      this.requests.close();
      this.events.push(end);
    }
  }

  private dispatch(response: SubscribeResponse): void {
    const kind = response.kind;
    switch (kind.case) {
      case "message":
        this.events.push(new Message(kind.value));
        break;
      case "messages":
        for (const m of kind.value.messages) this.events.push(new Message(m));
        break;
      case "snapshotComplete": {
        const offsets = new Map<number, bigint>();
        for (const [p, o] of Object.entries(kind.value.offsets)) offsets.set(Number(p), o);
        this.events.push(snapshotComplete(offsets));
        break;
      }
      case "snapshotQueued":
        this.events.push({ kind: "snapshotQueued", place: kind.value.place });
        break;
      case "rebalance":
        this.events.push({ kind: "rebalance", partitions: new Set(kind.value.partitions) });
        break;
      case "commitResponse": {
        const answer = this.commits.get(kind.value.correlationId);
        this.commits.delete(kind.value.correlationId);
        answer?.(kind.value);
        break;
      }
      case "connection":
        this.connection = kind.value;
        break;
      case "error":
        this.options.onError?.(kind.value.reason);
        break;
    }
  }
}
