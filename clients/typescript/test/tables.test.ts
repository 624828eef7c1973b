import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import {
  Code,
  deleteRecord,
  Entry,
  FailedPreconditionError,
  InvalidArgumentError,
  Message,
  offsetsAfter,
  type ProduceResult,
  RoadrollerClient,
  RoadType,
  type Subscription,
  type SubscriptionItem,
} from "../src/index.js";
import { Server } from "./server.js";

const SCHEMA = { type: "object", properties: { v: { type: "string" } } };

function roadName(): string {
  return `ts_${randomUUID().replaceAll("-", "").slice(0, 12)}`;
}

/** The next item, failing when none arrives in time. */
async function nextItem(sub: Subscription, withinMs = 30_000): Promise<SubscriptionItem> {
  const item = await sub.next(withinMs);
  assert.ok(item !== undefined, `an item within ${withinMs} ms`);
  return item;
}

/** The items up to and including the `snapshotComplete`. */
async function untilComplete(sub: Subscription): Promise<{ keys: Message[]; complete: SubscriptionItem }> {
  const keys: Message[] = [];
  for (;;) {
    const item = await nextItem(sub);
    if (item.kind === "snapshotComplete") return { keys, complete: item };
    assert.ok(item instanceof Message, `a message, not ${item.kind}`);
    keys.push(item);
  }
}

function allOk(results: ProduceResult[]): void {
  const rejected = results.filter((r) => !r.ok);
  assert.deepEqual(rejected, [], "every record accepted");
}

describe("materialized roads (TableService) and snapshot resume", () => {
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

  /** A COMPACTED road with a schema, enabled, optionally materialized and ready. */
  async function compactedRoad(materialized: boolean): Promise<string> {
    const name = roadName();
    await rr.createRoad(name, RoadType.COMPACTED, { description: "TypeScript tables test" });
    await rr.waitForTopic(name);
    await rr.registerSchema(name, SCHEMA);
    await rr.setEnabled(name);
    if (materialized) {
      const road = await rr.setMaterialized(name);
      assert.equal(road.materialized, true);
      await rr.waitForTable(name);
    }
    return name;
  }

  it("reads the road-roller example from the view: get, batchGet, the road's table status", async () => {
    const road = await compactedRoad(false);
    const t0 = Date.now();
    const results = await rr.produce(road, [
      { key: "a", payload: { v: "one" } },
      { key: "b", payload: '{"v": "two"}' },
      { key: "a", payload: '{"v": "three"}' },
      deleteRecord("b"),
    ]);
    allOk(results);
    // Materialized after the writes: a ready view has applied all of them.
    const marked = await rr.setMaterialized(road);
    assert.equal(marked.materialized, true);
    const ready = await rr.waitForTable(road);
    assert.equal(ready.table?.ready, true);
    assert.equal(ready.table?.liveKeys, 1n);
    assert.equal(ready.table?.lastProblem, "");
    const three = results[2];
    assert.ok(three.ok);
    assert.ok(ready.table!.offsets[three.partition] > three.offset);

    const a = await rr.get(road, "a");
    assert.ok(a instanceof Entry);
    assert.equal(a.key, "a");
    assert.equal(a.payload, '{"v": "three"}', "the text as produced");
    assert.deepEqual(a.value, { v: "three" });
    assert.equal(a.schemaVersion, 1);
    assert.equal(a.partition, three.partition);
    assert.equal(a.offset, three.offset);
    assert.ok(a.timestamp instanceof Date);
    const ms = a.timestamp.getTime();
    assert.ok(ms >= t0 - 5_000 && ms <= Date.now() + 5_000, `timestamp ${a.timestamp.toISOString()}`);
    assert.deepEqual(JSON.parse(JSON.stringify(a)), {
      key: "a",
      payload: '{"v": "three"}',
      schemaVersion: 1,
      partition: three.partition,
      offset: Number(three.offset),
      timestamp: a.timestamp.toISOString(),
    });

    assert.equal(await rr.get(road, "b"), undefined, "a deleted key has no entry");
    assert.equal(await rr.get(road, "never"), undefined, "nor a key never written");

    const batch = await rr.batchGet(road, ["b", "a", "missing", "a"]);
    assert.deepEqual(
      batch.map((r) => [r.key, r.entry?.payload]),
      [
        ["b", undefined],
        ["a", '{"v": "three"}'],
        ["missing", undefined],
        ["a", '{"v": "three"}'],
      ],
    );
    assert.ok(batch[1].entry instanceof Entry);
    assert.equal(batch[1].entry.offset, three.offset);
    assert.deepEqual(await rr.batchGet(road, []), [], "no keys, no call");

    await assert.rejects(rr.get(road, ""), (e: unknown) => {
      assert.ok(e instanceof InvalidArgumentError);
      return true;
    });
  });

  it("lists entries in key order by prefix, following page tokens", async () => {
    const road = await compactedRoad(true);
    const keys = ["p/3", "q/1", "p/0", "p/6", "o/9", "p/1", "p/5", "p/2", "p/4", "pz"];
    const results = await rr.produce(
      road,
      keys.map((key) => ({ key, payload: { v: key } })),
    );
    allOk(results);
    allOk(await rr.produce(road, [deleteRecord("p/4")]));
    // The view follows the writes; wait for them through read-your-writes.
    assert.ok(await rr.get(road, "p/0", { minOffsets: results }));
    assert.equal(await rr.get(road, "p/4", { minOffsets: results }), undefined);

    // A client that counts its ListEntries calls.
    let pages = 0;
    const counting = new RoadrollerClient(server.url, {
      interceptors: [
        (next) => (req) => {
          if (req.method.name === "ListEntries") pages += 1;
          return next(req);
        },
      ],
    });
    try {
      const listed: Entry[] = [];
      for await (const entry of counting.listEntries(road, { prefix: "p/", pageSize: 2 })) {
        assert.ok(entry instanceof Entry);
        listed.push(entry);
      }
      assert.deepEqual(
        listed.map((e) => e.key),
        ["p/0", "p/1", "p/2", "p/3", "p/5", "p/6"],
      );
      assert.deepEqual(listed[0].value, { v: "p/0" });
      // Three pages of two; the last, full, says it is the last.
      assert.equal(pages, 3);

      const all: string[] = [];
      for await (const entry of counting.listEntries(road)) all.push(entry.key);
      assert.deepEqual(all, ["o/9", "p/0", "p/1", "p/2", "p/3", "p/5", "p/6", "pz", "q/1"]);

      // Leaving the loop early stops fetching pages.
      pages = 0;
      for await (const entry of counting.listEntries(road, { pageSize: 1 })) {
        assert.equal(entry.key, "o/9");
        break;
      }
      assert.equal(pages, 1);

      await assert.rejects(
        (async () => {
          for await (const _ of counting.listEntries(road, { pageSize: 1_001 })) void _;
        })(),
        InvalidArgumentError,
      );
    } finally {
      counting.close();
    }
  });

  it("reads its own writes with minOffsets from the produce results", async () => {
    const road = await compactedRoad(true);
    for (let round = 0; round < 5; round++) {
      const results = await rr.produce(road, [
        { key: "counter", payload: { v: `n${round}` } },
        { key: `other${round}`, payload: { v: "x" } },
      ]);
      allOk(results);
      const entry = await rr.get(road, "counter", { minOffsets: results });
      assert.equal(entry?.payload, `{"v":"n${round}"}`, `round ${round} sees its write`);
      const [first] = results;
      assert.ok(first.ok);
      assert.equal(entry.offset, first.offset);

      // The same through an explicit map, and an object of partition to offset.
      const after = offsetsAfter(results);
      assert.equal(after.get(first.partition)! > first.offset, true);
      const batch = await rr.batchGet(road, ["counter", `other${round}`], { minOffsets: after });
      assert.ok(batch.every((r) => r.entry !== undefined));
      const asObject = Object.fromEntries(after);
      assert.equal((await rr.get(road, `other${round}`, { minOffsets: asObject }))?.key, `other${round}`);
    }

    // offsetsAfter: the highest accepted offset plus one per partition, rejected skipped.
    assert.deepEqual(
      offsetsAfter([
        { ok: true, partition: 0, offset: 4n, schemaVersion: 1 },
        { ok: true, partition: 0, offset: 2n, schemaVersion: 1 },
        { ok: false, code: Code.InvalidArgument, message: "no", violations: [], violationCount: 0 },
        { ok: true, partition: 3, offset: 0n, schemaVersion: 1 },
      ]),
      new Map([
        [0, 5n],
        [3, 1n],
      ]),
    );

    // A view that cannot reach the offsets: at once with failIfBehind, else
    // when the call's time is up (the server answers just before it).
    const road2 = await rr.getRoad(road);
    const [partition, next] = Object.entries(road2.table!.offsets)[0];
    const ahead = new Map([[Number(partition), next + 1_000_000n]]);
    const started = Date.now();
    await assert.rejects(rr.get(road, "counter", { minOffsets: ahead, failIfBehind: true }), (e: unknown) => {
      assert.ok(e instanceof FailedPreconditionError);
      assert.equal(e.reason, "VIEW_BEHIND");
      return true;
    });
    assert.ok(Date.now() - started < 5_000, "failIfBehind does not wait");
    const impatient = new RoadrollerClient(server.url, { timeoutMs: 1_500 });
    try {
      await assert.rejects(impatient.get(road, "counter", { minOffsets: ahead }), (e: unknown) => {
        assert.ok(e instanceof FailedPreconditionError, `VIEW_BEHIND, not ${e}`);
        assert.equal(e.reason, "VIEW_BEHIND");
        return true;
      });
    } finally {
      impatient.close();
    }
    // A partition the road does not have.
    await assert.rejects(rr.get(road, "counter", { minOffsets: new Map([[9_999, 0n]]) }), InvalidArgumentError);
  });

  it("refuses lookups on a road that is not materialized, and materializing a STREAM road", async () => {
    const road = await compactedRoad(false);
    allOk(await rr.produce(road, [{ key: "a", payload: { v: "one" } }]));
    const notMaterialized = (e: unknown) => {
      assert.ok(e instanceof FailedPreconditionError, `FailedPreconditionError, not ${e}`);
      assert.equal(e.code, Code.FailedPrecondition);
      assert.equal(e.reason, "NOT_MATERIALIZED");
      return true;
    };
    await assert.rejects(rr.get(road, "a"), notMaterialized);
    await assert.rejects(rr.batchGet(road, ["a"]), notMaterialized);
    await assert.rejects(
      (async () => {
        for await (const _ of rr.listEntries(road)) void _;
      })(),
      notMaterialized,
    );
    await assert.rejects(rr.waitForTable(road), notMaterialized);
    await assert.rejects(rr.get(`${road}_missing`, "a"), { code: Code.NotFound });

    // A snapshot read from the topic carries no resume tokens.
    const snapshot = rr.snapshot(road);
    try {
      const { keys } = await untilComplete(snapshot);
      assert.deepEqual(keys.map((m) => [m.key, m.resumeToken]), [["a", undefined]]);
      assert.equal(snapshot.resumeToken, undefined);
    } finally {
      await snapshot.close();
    }

    // Turned off again, the lookups are refused again.
    await rr.setMaterialized(road);
    await rr.waitForTable(road);
    assert.equal((await rr.get(road, "a"))?.payload, '{"v":"one"}');
    const off = await rr.setMaterialized(road, false);
    assert.equal(off.materialized, false);
    await assert.rejects(rr.get(road, "a"), notMaterialized);

    const stream = roadName();
    await rr.createRoad(stream, RoadType.STREAM);
    await assert.rejects(rr.setMaterialized(stream), InvalidArgumentError);
  });

  it("resumes a cut-off snapshot from its last token with exactly the remaining keys", async () => {
    const road = await compactedRoad(false);
    const keys = Array.from({ length: 2_000 }, (_, i) => `k${String(i).padStart(4, "0")}`);
    // Written in an order other than the keys', which the view sorts.
    const shuffled = [...keys].reverse();
    for (let i = 0; i < shuffled.length; i += 500) {
      allOk(await rr.produce(road, shuffled.slice(i, i + 500).map((key) => ({ key, payload: { v: key } }))));
    }
    await rr.setMaterialized(road);
    const ready = await rr.waitForTable(road);
    assert.equal(ready.table?.liveKeys, 2_000n);

    const cut = 700;
    const first = rr.snapshot(road, { window: 100 });
    let token: string | undefined;
    try {
      assert.equal(first.resumeToken, undefined, "no token before the first message");
      const taken: Message[] = [];
      while (taken.length < cut) {
        const item = await nextItem(first);
        assert.ok(item instanceof Message, `a message, not ${item.kind}`);
        assert.ok(item.resumeToken, `${item.key} carries a resume token`);
        assert.equal(first.resumeToken, item.resumeToken, "the subscription keeps the latest");
        taken.push(item);
      }
      assert.deepEqual(taken.map((m) => m.key), keys.slice(0, cut), "key order");
      assert.equal(JSON.parse(JSON.stringify(taken.at(-1))).resumeToken, taken.at(-1)!.resumeToken);
      token = first.resumeToken;
    } finally {
      await first.close();
    }
    assert.ok(token);

    const resumed = rr.snapshot(road, { resumeToken: token, window: 100 });
    try {
      assert.equal(resumed.resumeToken, token, "the token it started from");
      const { keys: rest, complete } = await untilComplete(resumed);
      assert.deepEqual(rest.map((m) => m.key), keys.slice(cut), "exactly the remaining keys, in order");
      assert.ok(rest.every((m) => m.resumeToken && m.payload === `{"v":"${m.key}"}`));
      assert.equal(resumed.resumeToken, rest.at(-1)!.resumeToken);
      assert.ok(complete.kind === "snapshotComplete");
      // The boundary is the offsets the view had when the first one started.
      assert.deepEqual(
        Object.fromEntries(complete.offsets),
        Object.fromEntries(Object.entries(ready.table!.offsets)),
      );
      assert.equal(await resumed.next(1_000), undefined, "no changes yet");
    } finally {
      await resumed.close();
    }

    // After changes to a key taken and to a key not yet taken, the same token
    // gives the same boundary: the key updated after it comes with its value
    // at the boundary (its page was read, by the resumed snapshot, before the
    // change) or is left out, and both changes follow, without tokens.
    const changes = await rr.produce(road, [
      { key: "k0000", payload: { v: "changed" } },
      { key: "k1999", payload: { v: "changed" } },
    ]);
    allOk(changes);
    assert.equal((await rr.get(road, "k1999", { minOffsets: changes }))?.payload, '{"v":"changed"}');
    const again = rr.snapshot(road, { resumeToken: token });
    try {
      const { keys: rest } = await untilComplete(again);
      const sent = rest.map((m) => m.key);
      assert.deepEqual(sent.slice(0, keys.length - cut - 1), keys.slice(cut, -1));
      if (sent.length > keys.length - cut - 1) {
        assert.deepEqual(sent.slice(-1), ["k1999"]);
        assert.equal(rest.at(-1)!.payload, '{"v":"k1999"}', "the value at the boundary");
      }
      const live = [await nextItem(again), await nextItem(again)];
      assert.deepEqual(
        new Set(live.map((m) => m instanceof Message && `${m.key}=${m.payload} ${m.resumeToken}`)),
        new Set(['k0000={"v":"changed"} undefined', 'k1999={"v":"changed"} undefined']),
      );
      assert.equal(again.resumeToken, rest.at(-1)!.resumeToken, "kept through the changes");
    } finally {
      await again.close();
    }
  });

  it("refuses a junk resume token, and one of another road", async () => {
    const road = await compactedRoad(true);
    const written = await rr.produce(road, [
      { key: "b", payload: { v: "two" } },
      { key: "a", payload: { v: "one" } },
    ]);
    allOk(written);
    assert.ok(await rr.get(road, "a", { minOffsets: written }));

    const junk = rr.snapshot(road, { resumeToken: "not-a-token" });
    try {
      await assert.rejects(junk.next(30_000), (e: unknown) => {
        assert.ok(e instanceof InvalidArgumentError, `InvalidArgumentError, not ${e}`);
        assert.equal(e.code, Code.InvalidArgument);
        return true;
      });
    } finally {
      await junk.close();
    }

    // A real token, of another road: its snapshot cannot be continued here.
    const snapshot = rr.snapshot(road);
    let token: string | undefined;
    try {
      const { keys } = await untilComplete(snapshot);
      assert.deepEqual(keys.map((m) => m.key), ["a", "b"]);
      token = snapshot.resumeToken;
    } finally {
      await snapshot.close();
    }
    assert.ok(token);
    const other = await compactedRoad(true);
    const elsewhere = rr.snapshot(other, { resumeToken: token });
    try {
      await assert.rejects(elsewhere.next(30_000), (e: unknown) => {
        assert.ok(e instanceof FailedPreconditionError, `FailedPreconditionError, not ${e}`);
        assert.equal(e.reason, "SNAPSHOT_NOT_RESUMABLE");
        return true;
      });
    } finally {
      await elsewhere.close();
    }
  });
});
