import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { generateKeyPairSync, type KeyObject, randomUUID, sign } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  type ClientOptions,
  Code,
  InitialPosition,
  Message,
  PermissionDeniedError,
  RoadrollerClient,
  RoadrollerError,
  RoadType,
  UnauthenticatedError,
} from "../src/index.js";
import { Server } from "./server.js";

const ISSUER = "https://issuer.test";
const AUDIENCE = "roadroller";
const SCHEMA = { type: "object", properties: { n: { type: "number" } } };

function roadName(): string {
  return `ts_${randomUUID().replaceAll("-", "").slice(0, 12)}`;
}

function base64url(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

function newKey(): KeyObject {
  return generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
}

/** An ES256 signing key, its public half in a JWKS file as key `k1`. */
class Issuer {
  readonly key = newKey();
  readonly jwks: string;

  constructor(dir: string) {
    this.jwks = join(dir, "jwks.json");
    const jwk = this.key.export({ format: "jwk" });
    const { kty, crv, x, y } = jwk; // the public half only
    writeFileSync(
      this.jwks,
      JSON.stringify({ keys: [{ kty, crv, x, y, kid: "k1", alg: "ES256", use: "sig" }] }),
    );
  }

  /** A JWT for `sub` with `groups`, signed by this issuer unless `key` is given. */
  token(
    sub: string,
    groups: string[],
    options: { expiresInS?: number; key?: KeyObject } = {},
  ): string {
    const now = Math.floor(Date.now() / 1000);
    const header = base64url({ alg: "ES256", typ: "JWT", kid: "k1" });
    const claims = base64url({
      iss: ISSUER,
      aud: AUDIENCE,
      sub,
      groups,
      iat: now,
      exp: now + (options.expiresInS ?? 600),
    });
    const signature = sign("sha256", Buffer.from(`${header}.${claims}`), {
      key: options.key ?? this.key,
      dsaEncoding: "ieee-p1363",
    });
    return `${header}.${claims}.${signature.toString("base64url")}`;
  }
}

async function stopped(server: Server | undefined): Promise<void> {
  if (!server) return;
  const code = await server.stop();
  assert.equal(code, 0, `roadroller serve exits 0 on SIGTERM:\n${server.output()}`);
}

async function roads(rr: RoadrollerClient, type?: RoadType): Promise<string[]> {
  const names: string[] = [];
  for await (const road of rr.listRoads(type)) names.push(road.name);
  return names;
}

describe("RoadrollerClient with bearer tokens", () => {
  let dir: string;
  let issuer: Issuer;
  let server: Server;
  const clients: RoadrollerClient[] = [];
  const savedToken = process.env.ROADROLLER_TOKEN;

  /** A client of the server, closed after the suite. */
  function client(options: ClientOptions = {}): RoadrollerClient {
    const rr = new RoadrollerClient(server.url, options);
    clients.push(rr);
    return rr;
  }

  before(async () => {
    delete process.env.ROADROLLER_TOKEN;
    dir = mkdtempSync(join(tmpdir(), "roadroller-ts-auth-"));
    issuer = new Issuer(dir);
    server = await Server.start([
      "--auth-jwks-file", issuer.jwks,
      "--auth-jwt-issuer", ISSUER,
      "--auth-jwt-audience", AUDIENCE,
      "--auth-admin-authorities", "admins",
    ]);
  });

  after(async () => {
    for (const rr of clients) rr.close();
    if (savedToken !== undefined) process.env.ROADROLLER_TOKEN = savedToken;
    await stopped(server);
    rmSync(dir, { recursive: true, force: true });
  });

  it("lets an admin's token create and list roads", async () => {
    const alice = client({ token: issuer.token("alice", ["admins"]) });
    const name = roadName();
    const created = await alice.createRoad(name, RoadType.COMPACTED, { description: "by alice" });
    assert.equal(created.name, name);
    assert.ok((await roads(alice)).includes(name));
  });

  it("rejects a call without a token as unauthenticated", async () => {
    const anonymous = client();
    await assert.rejects(roads(anonymous), (e: unknown) => {
      assert.ok(e instanceof UnauthenticatedError);
      assert.ok(e instanceof RoadrollerError && e.isUnauthenticated);
      assert.equal(e.code, Code.Unauthenticated);
      return true;
    });
    await assert.rejects(anonymous.createRoad(roadName(), RoadType.STREAM), UnauthenticatedError);
  });

  it("rejects an expired, a foreign or a malformed token as unauthenticated", async () => {
    const expired = issuer.token("alice", ["admins"], { expiresInS: -3600 });
    const foreign = issuer.token("alice", ["admins"], { key: newKey() });
    for (const token of [expired, foreign, "not-a-jwt"]) {
      await assert.rejects(roads(client({ token })), UnauthenticatedError, token);
    }
  });

  it("rejects a principal without the authority as permission denied", async () => {
    const bob = client({ token: issuer.token("bob", ["nobody"]) });
    await assert.rejects(bob.createRoad(roadName(), RoadType.COMPACTED), (e: unknown) => {
      assert.ok(e instanceof PermissionDeniedError);
      assert.ok(!(e instanceof UnauthenticatedError));
      assert.ok(e.isPermissionDenied);
      assert.equal(e.code, Code.PermissionDenied);
      return true;
    });
  });

  it("reads the token from a file", async () => {
    const tokenFile = join(dir, "token");
    writeFileSync(tokenFile, `  ${issuer.token("alice", ["admins"])}\n`);
    const alice = client({ tokenFile });
    const name = roadName();
    await alice.createRoad(name, RoadType.STREAM);
    assert.ok((await roads(alice, RoadType.STREAM)).includes(name));
  });

  it("falls back to ROADROLLER_TOKEN", async () => {
    process.env.ROADROLLER_TOKEN = issuer.token("alice", ["admins"]);
    try {
      await roads(client());
      // An explicit token wins over the environment.
      const bob = client({ token: issuer.token("bob", ["nobody"]) });
      await assert.rejects(bob.createRoad(roadName(), RoadType.STREAM), PermissionDeniedError);
    } finally {
      delete process.env.ROADROLLER_TOKEN;
    }
  });

  it("sends the token on streaming calls", async () => {
    const alice = client({ token: issuer.token("alice", ["admins"]) });
    const road = roadName();
    await alice.createRoad(road, RoadType.COMPACTED);
    await alice.waitForTopic(road);
    await alice.registerSchema(road, SCHEMA);
    await alice.setEnabled(road);
    assert.ok((await alice.produce(road, [{ key: "k", payload: { n: 1 } }])).every((r) => r.ok));
    const sub = alice.subscribe(road, "secured", { initialPosition: InitialPosition.EARLIEST });
    try {
      const message = await sub.next(30_000);
      assert.ok(message instanceof Message && message.key === "k");
    } finally {
      await sub.close();
    }

    const anonymous = client().subscribe(road, "secured");
    try {
      await assert.rejects(anonymous.next(30_000), UnauthenticatedError);
    } finally {
      await anonymous.close();
    }
  });

  it("checks its token options", () => {
    const both = { token: "a", tokenFile: "b" };
    assert.throws(() => new RoadrollerClient(server.url, both), TypeError);
    const empty = join(dir, "empty");
    writeFileSync(empty, "\n");
    assert.throws(() => new RoadrollerClient(server.url, { tokenFile: empty }), TypeError);
    assert.throws(() => new RoadrollerClient(server.url, { tokenFile: join(dir, "missing") }));
  });
});

/**
 * A private CA, a server certificate for 127.0.0.1 and localhost, and a
 * client certificate for `alice`, as PEM files made with `openssl`.
 */
class Pki {
  readonly ca: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;

  constructor(private readonly dir: string) {
    this.ca = join(dir, "ca.pem");
    const caKey = join(dir, "ca.key");
    openssl(
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
      "-keyout", caKey, "-out", this.ca, "-days", "1", "-subj", "/CN=Roadroller test CA",
      "-addext", "basicConstraints=critical,CA:TRUE",
      "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    );
    [this.serverCert, this.serverKey] = this.issue("server", "localhost", 2, [
      "subjectAltName=DNS:localhost,IP:127.0.0.1",
      "extendedKeyUsage=serverAuth",
    ]);
    [this.clientCert, this.clientKey] = this.issue("client", "alice", 3, [
      "extendedKeyUsage=clientAuth",
    ]);
  }

  private issue(name: string, cn: string, serial: number, extensions: string[]): [string, string] {
    const [cert, key, csr, ext] = ["pem", "key", "csr", "ext"].map((e) =>
      join(this.dir, `${name}.${e}`),
    );
    writeFileSync(
      ext,
      [
        "basicConstraints=critical,CA:FALSE",
        "keyUsage=critical,digitalSignature",
        "subjectKeyIdentifier=hash",
        "authorityKeyIdentifier=keyid",
        ...extensions,
      ].join("\n"),
    );
    openssl(
      "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
      "-keyout", key, "-out", csr, "-subj", `/CN=${cn}`,
    );
    openssl(
      "x509", "-req", "-in", csr, "-CA", this.ca, "-CAkey", join(this.dir, "ca.key"),
      "-set_serial", String(serial), "-days", "1", "-out", cert, "-extfile", ext,
    );
    return [cert, key];
  }
}

function openssl(...args: string[]): void {
  execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
}

describe("RoadrollerClient over TLS", () => {
  let dir: string;
  let pki: Pki;
  let tls: Server;
  let mtls: Server;
  const clients: RoadrollerClient[] = [];

  function client(url: string, options: ClientOptions = {}): RoadrollerClient {
    const rr = new RoadrollerClient(url, options);
    clients.push(rr);
    return rr;
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "roadroller-ts-tls-"));
    pki = new Pki(dir);
    tls = await Server.start(["--tls-cert-file", pki.serverCert, "--tls-key-file", pki.serverKey]);
    mtls = await Server.start([
      "--tls-cert-file", pki.serverCert,
      "--tls-key-file", pki.serverKey,
      "--tls-client-ca-file", pki.ca,
      "--tls-require-client-cert", "true",
    ]);
  });

  after(async () => {
    for (const rr of clients) rr.close();
    await stopped(tls);
    await stopped(mtls);
    rmSync(dir, { recursive: true, force: true });
  });

  it("calls a server whose certificate the private CA signed", async () => {
    const rr = client(tls.httpsUrl, { caCert: pki.ca });
    const name = roadName();
    await rr.createRoad(name, RoadType.STREAM);
    assert.ok((await roads(rr)).includes(name));
  });

  it("refuses a server it does not trust", async () => {
    // Node's roots do not include the test CA.
    await assert.rejects(roads(client(tls.httpsUrl, { timeoutMs: 10_000 })), RoadrollerError);
    // Nor does a plaintext client get an answer from a TLS server.
    await assert.rejects(roads(client(tls.url, { timeoutMs: 10_000 })), RoadrollerError);
  });

  it("presents a client certificate to a server that requires one", async () => {
    const rr = client(mtls.httpsUrl, {
      caCert: pki.ca,
      clientCert: pki.clientCert,
      clientKey: pki.clientKey,
    });
    await roads(rr);
  });

  it("fails without a client certificate where one is required", async () => {
    const rr = client(mtls.httpsUrl, { caCert: pki.ca, timeoutMs: 10_000 });
    await assert.rejects(roads(rr), RoadrollerError);
  });

  it("checks its TLS options", () => {
    assert.throws(() => new RoadrollerClient(tls.url, { caCert: pki.ca }), TypeError);
    assert.throws(
      () => new RoadrollerClient(tls.httpsUrl, { caCert: pki.ca, clientCert: pki.clientCert }),
      TypeError,
    );
  });
});
