// Snapshot read rate: a COMPACTED road with KEYS keys of ~100-byte JSON
// payloads, produced through the client, then `snapshot` read to
// snapshotComplete by each client build named on the command line (the
// dist/src/index.js of a build; default ../dist/src/index.js), in turn,
// ROUNDS times, with the build's default window unless WINDOW is set. Needs
// `npm run build` (for the test server helper) and ROADROLLER_BIN or a cargo
// build of the server.
//
//   KEYS=300000 ROUNDS=2 node bench/snapshot.mjs [dist/src/index.js ...]
//
// With TARGET (a running server's http://host:port) and ROAD (a filled
// COMPACTED road) it reads that road instead, without starting a server or
// filling one, and ends with a JSON line {"keys", "seconds"} of the best
// round, for the benchmark to read.
import { randomUUID } from "node:crypto";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

const KEYS = Number(process.env.KEYS ?? 300_000);
const ROUNDS = Number(process.env.ROUNDS ?? 2);
const WINDOW = process.env.WINDOW ? { window: Number(process.env.WINDOW) } : {};
const BATCH = 5_000;
const IN_FLIGHT = 4;

const builds = process.argv.slice(2);
if (builds.length === 0) builds.push(new URL("../dist/src/index.js", import.meta.url).pathname);
const clients = await Promise.all(builds.map((b) => import(pathToFileURL(resolve(b)).href)));

/** A JSON object of about 100 bytes for key `i`. */
function payload(i) {
  const id = String(i).padStart(7, "0");
  return JSON.stringify({
    id: i,
    name: `customer-${id}`,
    email: `c${id}@example.com`,
    balance: (i % 10_000) / 100,
    tier: "gold",
  });
}

/** Reads `road` to snapshotComplete with each build, ROUNDS times; the
 * best round's keys and seconds. `expected`: the key count, when known. */
async function readAll(url, road, expected) {
  let best = { keys: 0, seconds: Infinity };
  for (let round = 1; round <= ROUNDS; round++) {
    for (const [i, client] of clients.entries()) {
      const reader = new client.RoadrollerClient(url);
      const t0 = performance.now();
      let count = 0;
      for await (const item of reader.snapshot(road, WINDOW)) {
        if (item.kind === "snapshotComplete") break;
        if (item.kind === "message") count += 1;
      }
      const s = (performance.now() - t0) / 1000;
      reader.close();
      if (expected !== undefined && count !== expected) {
        throw new Error(`${builds[i]}: ${count} of ${expected} keys`);
      }
      if (count / s > best.keys / best.seconds) best = { keys: count, seconds: s };
      console.log(
        `round ${round} ${builds[i]}: ${count} keys in ${s.toFixed(2)} s, ` +
          `${Math.round(count / s).toLocaleString("en")} messages/s`,
      );
    }
  }
  return best;
}

if (process.env.TARGET && process.env.ROAD) {
  const best = await readAll(process.env.TARGET, process.env.ROAD, undefined);
  console.log(JSON.stringify(best));
  process.exit(0);
}

const { Server } = await import("../dist/test/server.js");
const server = await Server.start();
try {
  const { RoadrollerClient, RoadType } = clients[clients.length - 1];
  const rr = new RoadrollerClient(server.url, { timeoutMs: 120_000 });
  const road = `bench_${randomUUID().replaceAll("-", "").slice(0, 12)}`;
  await rr.createRoad(road, RoadType.COMPACTED);
  await rr.waitForTopic(road);
  await rr.registerSchema(road, { type: "object" });
  await rr.setEnabled(road);

  let bytes = 0;
  const started = performance.now();
  let next = 0;
  async function producer() {
    while (next < KEYS) {
      const from = next;
      next = Math.min(KEYS, next + BATCH);
      const records = [];
      for (let i = from; i < next; i++) {
        const p = payload(i);
        bytes += p.length;
        records.push({ key: `k${i}`, payload: p });
      }
      const results = await rr.produce(road, records);
      const rejected = results.find((r) => !r.ok);
      if (rejected) throw new Error(`rejected: ${rejected.message}`);
    }
  }
  await Promise.all(Array.from({ length: IN_FLIGHT }, producer));
  const produceS = (performance.now() - started) / 1000;
  console.log(
    `produced ${KEYS} keys (${(bytes / KEYS).toFixed(0)} bytes of payload each) in ` +
      `${produceS.toFixed(1)} s`,
  );
  rr.close();

  await readAll(server.url, road, KEYS);
} finally {
  await server.stop();
}
