import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import {
  Code,
  CommitError,
  deleteRecord,
  Message,
  RoadrollerClient,
  RoadrollerError,
  RoadType,
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
  async function compactedRoad(): Promise<string> {
    const name = `ts_${randomUUID().replaceAll("-", "").slice(0, 12)}`;
    await rr.createRoad(name, RoadType.COMPACTED, { description: "TypeScript client test" });
    await rr.waitForTopic(name);
    await rr.registerSchema(name, SCHEMA);
    await rr.setEnabled(name);
    return name;
  }

  it("creates a COMPACTED road, registers a schema and enables the road", async () => {
    const name = `ts_${randomUUID().replaceAll("-", "").slice(0, 12)}`;
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

    const sub = rr.subscribe(road, "indexer");
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
    const again = rr.subscribe(road, "indexer");
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
    const sub = rr.subscribe(road, "small_window", { window: 4 });
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
});
