import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import {
  AbortedError,
  AlreadyExistsError,
  Code,
  CommitError,
  deleteRecord,
  FailedPreconditionError,
  InitialPosition,
  InvalidArgumentError,
  Message,
  NotFoundError,
  offsetToJSON,
  ResourceExhaustedError,
  RoadrollerClient,
  RoadrollerError,
  RoadType,
  toRoadrollerError,
  type RoadFields,
  type SubscriptionItem,
  type Subscription,
} from "../src/index.js";
import { Server } from "./server.js";

const SCHEMA = {
  type: "object",
  properties: { price: { type: "number" }, name: { type: "string" } },
  required: ["price"],
};

/** The next `count` items, failing when they do not all arrive in time. */
async function take(sub: Subscription, count: number, withinMs = 30_000): Promise<SubscriptionItem[]> {
  const items: SubscriptionItem[] = [];
  const deadline = Date.now() + withinMs;
  while (items.length < count) {
    const item = await sub.next(Math.max(0, deadline - Date.now()));
    if (item === undefined) {
      assert.fail(`${items.length} of ${count} items within ${withinMs} ms`);
    }
    items.push(item);
  }
  return items;
}

function messages(items: SubscriptionItem[]): Message[] {
  return items.map((item) => {
    assert.ok(item instanceof Message, `a message, not ${item.kind}`);
    return item;
  });
}

/** Asserts that nothing more arrives for a while. */
async function quiet(sub: Subscription, forMs = 1500): Promise<void> {
  const item = await sub.next(forMs);
  assert.equal(item, undefined, "nothing more arrives");
}

function roadName(): string {
  return `ts_${randomUUID().replaceAll("-", "").slice(0, 12)}`;
}

describe("RoadrollerClient against a live roadroller serve", () => {
  let server: Server;
  let rr: RoadrollerClient;

  before(async () => {
    server = await Server.start();
    rr = new RoadrollerClient(server.url);
  });

  after(async () => {
    rr?.close();
    if (server) {
      const code = await server.stop();
      assert.equal(code, 0, `roadroller serve exits 0 on SIGTERM:\n${server.output()}`);
    }
  });

  /** A COMPACTED road with a schema, enabled and ready to use. */
  async function compactedRoad(fields: RoadFields = {}): Promise<string> {
    const name = roadName();
    await rr.createRoad(name, RoadType.COMPACTED, { description: "TypeScript client test", ...fields });
    await rr.waitForTopic(name);
    await rr.registerSchema(name, SCHEMA);
    await rr.setEnabled(name);
    return name;
  }

  it("creates a COMPACTED road, registers a schema and enables the road", async () => {
    const name = roadName();
    const created = await rr.createRoad(name, RoadType.COMPACTED, { description: "prices" });
    assert.equal(created.type, RoadType.COMPACTED);
    assert.equal(created.enabled, false);

    await assert.rejects(rr.createRoad(name, RoadType.COMPACTED), (e: unknown) => {
      assert.ok(e instanceof RoadrollerError);
      assert.equal(e.code, Code.AlreadyExists);
      return true;
    });

    const ready = await rr.waitForTopic(name);
    assert.equal(ready.status?.topicCreated, true);
    const schema = await rr.registerSchema(name, SCHEMA);
    assert.equal(schema.version, 1);
    assert.equal((await rr.getSchema(name)).version, 1);
    assert.deepEqual((await rr.listSchemas(name)).map((s) => s.version), [1]);

    const enabled = await rr.setEnabled(name);
    assert.equal(enabled.enabled, true);
    assert.equal(enabled.latestSchemaVersion, 1);
    const compacted: string[] = [];
    for await (const road of rr.listRoads(RoadType.COMPACTED)) compacted.push(road.name);
    assert.ok(compacted.includes(name));

    await assert.rejects(rr.getRoad(`${name}_missing`), (e: unknown) => {
      assert.ok(e instanceof RoadrollerError && e.isNotFound);
      assert.equal(e.reason, "ROAD_NOT_FOUND");
      return true;
    });
    await assert.rejects(rr.registerSchema(name, { type: "array" }), (e: unknown) => {
      assert.ok(e instanceof RoadrollerError);
      assert.equal(e.code, Code.InvalidArgument);
      return true;
    });
  });

  it("produces keyed records and a delete, with a result per record", async () => {
    const road = await compactedRoad();
    const results = await rr.produce(road, [
      { key: "sku-1", payload: { price: 10, name: "hammer" } },
      { key: "sku-2", payload: '{"price": 2.5}' },
      deleteRecord("sku-1"),
      { key: "sku-3", payload: { price: "free" } },
      { payload: { price: 1 } },
    ]);
    assert.equal(results.length, 5);
    const [first, second, del, badType, noKey] = results;
    assert.ok(first.ok && first.schemaVersion === 1);
    assert.ok(second.ok && second.schemaVersion === 1);
    assert.ok(del.ok);
    assert.equal(del.partition, first.partition);
    assert.ok(del.offset > first.offset);
    assert.ok(!badType.ok);
    assert.equal(badType.code, Code.InvalidArgument);
    assert.deepEqual(
      badType.violations.map((v) => [v.pointer, v.keyword]),
      [["/price", "type"]],
    );
    assert.ok(!noKey.ok && noKey.code === Code.InvalidArgument);

    await assert.rejects(rr.produce(`${road}_missing`, [{ key: "k", payload: { price: 1 } }]), {
      code: Code.NotFound,
    });
  });

  it("reports schema version zero for a delete", async () => {
    const road = await compactedRoad();
    const [del] = await rr.produce(road, [deleteRecord("gone")]);
    assert.ok(del.ok);
    assert.equal(del.schemaVersion, 0);
  });

  it("subscribes in GROUP mode, commits, and a new subscriber resumes after the commit", async () => {
    const road = await compactedRoad();
    const produced = await rr.produce(road, [
      { key: "a", payload: { price: 1 } },
      { key: "b", payload: { price: 2 } },
      deleteRecord("a"),
    ]);
    assert.ok(produced.every((r) => r.ok));

    const sub = rr.subscribe(road, "indexer", { initialPosition: InitialPosition.EARLIEST });
    try {
      const got = messages(await take(sub, 3));
      assert.equal(sub.connection?.consumerGroup, `roadroller.${road}.indexer`);
      assert.deepEqual(
        new Set(got.map((m) => `${m.key}=${m.payload}`)),
        new Set(['a={"price":1}', 'b={"price":2}', "a=undefined"]),
      );
      const tombstone = got.find((m) => m.isDelete)!;
      assert.equal(tombstone.key, "a");
      assert.equal(tombstone.value, undefined);

      const committed = await sub.commit();
      const expected = new Map<number, bigint>();
      for (const m of got) {
        const next = expected.get(m.partition);
        if (next === undefined || m.nextOffset > next) expected.set(m.partition, m.nextOffset);
      }
      assert.deepEqual(committed, expected);
      await assert.rejects(sub.commit(new Map([[Math.max(...sub.partitions) + 1000, 0n]])), CommitError);
    } finally {
      await sub.close();
    }

    // Everything committed: the stream's next subscriber gets only what is new.
    await rr.produce(road, [{ key: "c", payload: { price: 3 } }]);
    const again = rr.subscribe(road, "indexer", { initialPosition: InitialPosition.EARLIEST });
    try {
      const [message] = messages(await take(again, 1));
      assert.equal(message.key, "c");
      assert.deepEqual(message.value, { price: 3 });
      await quiet(again);
    } finally {
      await again.close();
    }
  });

  it("tops up credit as messages are taken", async () => {
    const road = await compactedRoad();
    const records = Array.from({ length: 12 }, (_, i) => ({ key: `k${i}`, payload: { price: i } }));
    assert.ok((await rr.produce(road, records)).every((r) => r.ok));
    const sub = rr.subscribe(road, "small_window", {
      window: 4,
      initialPosition: InitialPosition.EARLIEST,
    });
    try {
      const keys = new Set(messages(await take(sub, 12)).map((m) => m.key));
      assert.deepEqual(keys, new Set(records.map((r) => r.key)));
    } finally {
      await sub.close();
    }
  });

  it("snapshots a COMPACTED road, shows the boundary, then follows live changes", async () => {
    const road = await compactedRoad();
    const before = await rr.produce(road, [
      { key: "a", payload: { price: 1 } },
      { key: "b", payload: { price: 2 } },
      { key: "a", payload: { price: 3 } },
      { key: "c", payload: { price: 4 } },
      deleteRecord("b"),
    ]);
    assert.ok(before.every((r) => r.ok));

    const snapshot = rr.snapshot(road, { window: 2 });
    try {
      const loaded = await take(snapshot, 3);
      const boundary = loaded[2];
      assert.ok(boundary.kind === "snapshotComplete", "the third item is the boundary");
      const state = messages(loaded.slice(0, 2));
      assert.deepEqual(
        Object.fromEntries(state.map((m) => [m.key, m.value])),
        { a: { price: 3 }, c: { price: 4 } },
      );
      // The boundary's offsets are the ends of the partitions when it began.
      for (const r of before) {
        if (r.ok) assert.ok(boundary.offsets.get(r.partition)! > r.offset);
      }
      await quiet(snapshot, 1000);
      await assert.rejects(snapshot.commit(new Map([[0, 0n]])), CommitError);

      await rr.produce(road, [{ key: "d", payload: { price: 5 } }, deleteRecord("c")]);
      const live = messages(await take(snapshot, 2));
      assert.deepEqual(
        new Set(live.map((m) => `${m.key}=${m.payload}`)),
        new Set(['d={"price":5}', "c=undefined"]),
      );
    } finally {
      await snapshot.close();
    }
  });

  it("raises an error class per gRPC code, with the reason and field violations", async () => {
    const name = roadName();
    const road = await rr.createRoad(name, RoadType.COMPACTED);

    await assert.rejects(rr.createRoad(name, RoadType.COMPACTED), (e: unknown) => {
      assert.ok(e instanceof AlreadyExistsError && e instanceof RoadrollerError);
      assert.equal(e.name, "AlreadyExistsError");
      assert.equal(e.code, Code.AlreadyExists);
      assert.equal(e.reason, "ROAD_ALREADY_EXISTS");
      assert.match(e.message, new RegExp(name));
      return true;
    });
    await assert.rejects(rr.getRoad(`${name}_missing`), (e: unknown) => {
      assert.ok(e instanceof NotFoundError && e.isNotFound);
      assert.equal(e.code, Code.NotFound);
      assert.equal(e.reason, "ROAD_NOT_FOUND");
      return true;
    });
    await assert.rejects(
      rr.createRoad("Not-A-Name", RoadType.STREAM, { contactEmail: "nobody" }),
      (e: unknown) => {
        assert.ok(e instanceof InvalidArgumentError);
        assert.equal(e.code, Code.InvalidArgument);
        assert.ok(e.reason, "an ErrorInfo reason");
        const fields = e.violations.map((v) => v.field);
        assert.ok(fields.includes("road.name"), `road.name among ${fields}`);
        for (const v of e.violations) assert.ok(v.description, `a description for ${v.field}`);
        return true;
      },
    );
    // Disabled: the Onramp refuses it.
    await assert.rejects(rr.produce(name, [{ key: "k", payload: { price: 1 } }]), (e: unknown) => {
      assert.ok(e instanceof FailedPreconditionError);
      assert.equal(e.code, Code.FailedPrecondition);
      assert.equal(e.reason, "ROAD_DISABLED");
      return true;
    });
    // The creation's etag is stale once the road has changed.
    await rr.updateRoad({ name, description: "changed" }, ["description"]);
    await assert.rejects(
      rr.updateRoad({ name, description: "again", etag: road.etag }, ["description"]),
      (e: unknown) => {
        assert.ok(e instanceof AbortedError);
        assert.equal(e.code, Code.Aborted);
        return true;
      },
    );
    // Anything else is a RoadrollerError too.
    const other = toRoadrollerError(new Error("boom"));
    assert.ok(other instanceof RoadrollerError);
    assert.equal(other.code, Code.Unknown);
  });

  it("raises the typed error that ends a subscription stream", async () => {
    const missing = rr.subscribe(`${roadName()}_missing`, "s");
    try {
      await assert.rejects(missing.next(30_000), (e: unknown) => {
        assert.ok(e instanceof NotFoundError);
        assert.equal(e.reason, "ROAD_NOT_FOUND");
        return true;
      });
    } finally {
      await missing.close();
    }

    const stream = roadName();
    await rr.createRoad(stream, RoadType.STREAM);
    await rr.waitForTopic(stream);
    const snapshot = rr.snapshot(stream);
    try {
      await assert.rejects(snapshot.next(30_000), InvalidArgumentError);
    } finally {
      await snapshot.close();
    }
  });

  it("refuses a Produce over the road's quota with RetryInfo and the QuotaFailure", async () => {
    const road = await compactedRoad({ quotas: { produceRecordsPerSecond: 2n } });
    // The bucket holds one second's worth: the first call of two records
    // fits, and a call right after it does not.
    let refusal: unknown;
    for (let i = 0; i < 10 && refusal === undefined; i++) {
      const records = [0, 1].map((j) => ({ key: `k${i}.${j}`, payload: { price: j } }));
      await rr.produce(road, records).then(
        (results) => assert.ok(results.every((r) => r.ok)),
        (e: unknown) => (refusal = e),
      );
    }
    assert.ok(refusal instanceof ResourceExhaustedError, `refused: ${refusal}`);
    assert.ok(refusal instanceof RoadrollerError);
    assert.equal(refusal.code, Code.ResourceExhausted);
    assert.equal(refusal.reason, "QUOTA_EXCEEDED");
    const { retryAfterMs } = refusal;
    assert.ok(retryAfterMs !== undefined, "RetryInfo's delay");
    assert.ok(retryAfterMs > 0 && retryAfterMs <= 2_000, `${retryAfterMs} ms`);
    assert.equal(refusal.quotaViolations.length, 1);
    const [violation] = refusal.quotaViolations;
    assert.equal(violation.subject, `road:${road}`);
    assert.match(violation.description, /produce_records_per_second/);

    // After the advised delay, it fits again.
    await new Promise((resolve) => setTimeout(resolve, retryAfterMs));
    const results = await rr.produce(road, [{ key: "later", payload: { price: 1 } }]);
    assert.ok(results.every((r) => r.ok));

    // A call that can never fit gets no RetryInfo.
    const tooMany = Array.from({ length: 5 }, (_, i) => ({ key: `m${i}`, payload: { price: i } }));
    await assert.rejects(rr.produce(road, tooMany), (e: unknown) => {
      assert.ok(e instanceof ResourceExhaustedError);
      assert.equal(e.reason, "QUOTA_EXCEEDED");
      assert.equal(e.retryAfterMs, undefined);
      assert.equal(e.quotaViolations[0]?.subject, `road:${road}`);
      return true;
    });
  });

  it("writes a received message with JSON.stringify, its offset as a number", async () => {
    const road = await compactedRoad();
    const [result] = await rr.produce(road, [{ key: "sku-1", payload: '{"price": 10}' }]);
    assert.ok(result.ok);
    await rr.produce(road, [deleteRecord("sku-2")]);
    const sub = rr.subscribe(road, "json", { initialPosition: InitialPosition.EARLIEST });
    try {
      const got = messages(await take(sub, 2));
      const message = got.find((m) => m.key === "sku-1")!;
      const json = JSON.parse(JSON.stringify(message));
      assert.deepEqual(json, {
        kind: "message",
        partition: result.partition,
        offset: Number(result.offset),
        timestamp: message.timestamp!.toISOString(),
        schemaVersion: 1,
        key: "sku-1",
        payload: '{"price": 10}', // the text as produced, not re-encoded
      });
      assert.equal(typeof json.offset, "number");
      assert.equal(BigInt(json.offset), message.offset);

      const tombstone = JSON.parse(JSON.stringify(got.find((m) => m.isDelete)!));
      assert.equal(tombstone.key, "sku-2");
      assert.ok(!("payload" in tombstone), "a delete has no payload");
    } finally {
      await sub.close();
    }

    // Beyond 2^53 - 1 an offset is written as its decimal text, exactly.
    assert.equal(offsetToJSON(2n ** 53n - 1n), Number.MAX_SAFE_INTEGER);
    assert.equal(offsetToJSON(2n ** 53n + 1n), "9007199254740993");
    assert.equal(BigInt(offsetToJSON(2n ** 63n - 1n)), 2n ** 63n - 1n);

    const snapshot = rr.snapshot(road);
    try {
      const [, complete] = await take(snapshot, 2);
      assert.ok(complete.kind === "snapshotComplete");
      const parsed = JSON.parse(JSON.stringify(complete));
      assert.equal(parsed.kind, "snapshotComplete");
      assert.equal(parsed.offsets[result.partition], Number(complete.offsets.get(result.partition)));
    } finally {
      await snapshot.close();
    }
  });

  it("starts a stream that has committed nothing at LATEST by default", async () => {
    const road = await compactedRoad();
    const old = Array.from({ length: 6 }, (_, i) => ({ key: `old${i}`, payload: { price: i } }));
    assert.ok((await rr.produce(road, old)).every((r) => r.ok));

    const sub = rr.subscribe(road, "latest_default");
    try {
      // Joined once it holds partitions; nothing written before arrives.
      const deadline = Date.now() + 30_000;
      while (sub.partitions.size === 0) {
        assert.ok(Date.now() < deadline, "partitions assigned within 30 s");
        assert.equal(await sub.next(200), undefined, "no record written before joining");
      }
      // The first record after joining may precede the consumer's position:
      // write until one arrives.
      let first: SubscriptionItem | undefined;
      for (let i = 0; i < 30 && first === undefined; i++) {
        assert.ok((await rr.produce(road, [{ key: `new${i}`, payload: { price: i } }])).every((r) => r.ok));
        first = await sub.next(1000);
      }
      assert.ok(first instanceof Message, "a record written after joining arrives");
      const seen = [first, ...messages(await drain(sub))].map((m) => (m as Message).key!);
      assert.ok(seen.every((key) => key.startsWith("new")), `only new records: ${seen}`);
    } finally {
      await sub.close();
    }

    // EARLIEST, asked for, replays the road.
    const replay = rr.subscribe(road, "earliest", { initialPosition: InitialPosition.EARLIEST });
    try {
      const wanted = new Set(old.map((r) => r.key));
      while (wanted.size > 0) {
        const [message] = messages(await take(replay, 1));
        wanted.delete(message.key!);
      }
    } finally {
      await replay.close();
    }
  });

  it("tells a SNAPSHOT its place while it waits for the road's snapshot slot", async () => {
    const road = await compactedRoad({ quotas: { maxSnapshotSubscriptions: 1 } });
    const keys = ["a", "b", "c"];
    assert.ok((await rr.produce(road, keys.map((key) => ({ key, payload: { price: 1 } })))).every((r) => r.ok));

    // With a window of one, the first snapshot stays loading until taken from.
    const first = rr.snapshot(road, { window: 1 });
    let second: Subscription | undefined;
    try {
      const [loading] = messages(await take(first, 1));
      assert.ok(keys.includes(loading.key!));
      second = rr.snapshot(road);
      const queued = await second.next(30_000);
      assert.deepEqual(queued, { kind: "snapshotQueued", place: 1 });
      assert.equal(await second.next(500), undefined, "no record while queued");

      const rest = await take(first, 3);
      assert.equal(rest[2].kind, "snapshotComplete");
      // The slot is free: the second one loads.
      const loaded: SubscriptionItem[] = [];
      while (loaded.at(-1)?.kind !== "snapshotComplete") {
        const [item] = await take(second, 1);
        if (item.kind !== "snapshotQueued") loaded.push(item);
      }
      assert.deepEqual(new Set(messages(loaded.slice(0, -1)).map((m) => m.key)), new Set(keys));
    } finally {
      await first.close();
      await second?.close();
    }
  });
});

/** The items that arrive until none has for `quietMs`. */
async function drain(sub: Subscription, quietMs = 1500): Promise<SubscriptionItem[]> {
  const items: SubscriptionItem[] = [];
  for (;;) {
    const item = await sub.next(quietMs);
    if (item === undefined) return items;
    items.push(item);
  }
}
