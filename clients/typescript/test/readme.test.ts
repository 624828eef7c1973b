import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { after, before, describe, it } from "node:test";
import { Server } from "./server.js";

// dist/test/readme.test.js → the repository's root, four levels up.
const here = dirname(fileURLToPath(import.meta.url));
const README = resolve(here, "../../../../README.md");
const PACKAGE = pathToFileURL(resolve(here, "../src/index.js")).href;
const ADDRESS = "http://127.0.0.1:50051";

/** The first ```ts block of the README's `### TypeScript` section. */
function typescriptExample(): string {
  const text = readFileSync(README, "utf8");
  const start = text.indexOf("\n### TypeScript\n");
  assert.ok(start >= 0, "the README has a TypeScript section");
  const section = text.slice(start);
  const block = /^```ts\n([\s\S]*?)^```$/m.exec(section);
  assert.ok(block, "the TypeScript section has a ts block");
  return block[1];
}

describe("the README's TypeScript example", () => {
  let server: Server;
  let dir: string;
  before(async () => {
    server = await Server.start();
    dir = mkdtempSync(join(tmpdir(), "roadroller-readme-"));
  });
  after(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("runs as written, twice in a row, and ends by itself", () => {
    const example = typescriptExample();
    assert.equal(example.split(ADDRESS).length, 2, "it names the default address once");
    assert.ok(example.includes('from "@roadroller/client"'), "it imports the package");
    // The package as built here, and this test's server; nothing else changes.
    const script = example.replace('"@roadroller/client"', JSON.stringify(PACKAGE)).replace(ADDRESS, server.url);
    const file = join(dir, "example.mjs");
    writeFileSync(file, script);
    for (const run of [1, 2]) {
      const out = execFileSync(process.execPath, [file], { encoding: "utf8", timeout: 60_000 });
      const lines = out.trim().split("\n");
      const results = JSON.parse(lines[0]) as { ok: boolean; offset: unknown }[];
      assert.equal(results.length, 2, `run ${run}: two produce results`);
      assert.ok(results.every((r) => r.ok && typeof r.offset === "number"), `run ${run}: ${lines[0]}`);
      assert.ok(
        lines.some((l) => l.startsWith("sku-1")),
        `run ${run}: the snapshot shows sku-1's latest value:\n${out}`,
      );
      assert.ok(!lines.some((l) => l.startsWith("sku-2 ")), `run ${run}: sku-2 was deleted:\n${out}`);
    }
  });
});
