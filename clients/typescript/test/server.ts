import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

/**
 * `roadroller serve` (the real binary, on its embedded broker) as a child
 * process on ports the operating system picks; its gRPC address is read
 * from the JSON `serving` log line.
 */
export class Server {
  private constructor(
    private readonly child: ChildProcess,
    private readonly dir: string,
    readonly address: string,
    private readonly lines: string[],
  ) {}

  static binary(): string {
    if (process.env.ROADROLLER_BIN) return process.env.ROADROLLER_BIN;
    const target = process.env.CARGO_TARGET_DIR || join(homedir(), ".cache/roadroller/target");
    return join(target, "debug", "roadroller");
  }

  /** Starts a server; `flags` are further `serve` flags (authentication, TLS). */
  static async start(flags: string[] = [], withinMs = 30_000): Promise<Server> {
    const binary = Server.binary();
    const dir = mkdtempSync(join(tmpdir(), "roadroller-ts-"));
    const args = [
      "serve",
      "--log-format", "json",
      "--listen", "127.0.0.1:0",
      "--embedded-listen", "127.0.0.1:0",
      "--data-dir", join(dir, "data"),
      "--grace-period", "5s",
      "--http-listen", "", // no HTTP gateway
      "--admin-listen", "", // no admin listener
      ...flags,
    ];
    // Settings come from flags only, not from the caller's ROADROLLER_*.
    const env = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !k.startsWith("ROADROLLER_")),
    );
    const child = spawn(binary, args, {
      env: { ...env, RUST_LOG: "info" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const lines: string[] = [];
    child.stderr!.on("data", (chunk: Buffer) => lines.push(chunk.toString()));
    const address = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new Error(`roadroller did not log "serving" within ${withinMs} ms:\n${lines.join("")}`));
      }, withinMs);
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`roadroller exited with ${code}:\n${lines.join("")}`));
      });
      createInterface({ input: child.stdout! }).on("line", (line) => {
        lines.push(`${line}\n`);
        try {
          const entry = JSON.parse(line) as { message?: string; listen?: string };
          if (entry.message === "serving" && entry.listen) {
            clearTimeout(timer);
            resolve(entry.listen);
          }
        } catch {
          // Not a JSON log line.
        }
      });
    });
    return new Server(child, dir, address, lines);
  }

  /** The base URL for the client. */
  get url(): string {
    return `http://${this.address}`;
  }

  /** The base URL for a client of a server started with TLS flags. */
  get httpsUrl(): string {
    return `https://${this.address}`;
  }

  /** The latest log lines, for a failure message. */
  output(): string {
    return this.lines.slice(-50).join("");
  }

  /** SIGTERM, then the exit code (0 for a clean shutdown). */
  async stop(withinMs = 20_000): Promise<number | null> {
    const exited = new Promise<number | null>((resolve) => {
      if (this.child.exitCode !== null) resolve(this.child.exitCode);
      else this.child.once("exit", (code) => resolve(code));
    });
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), withinMs);
    const code = await exited;
    clearTimeout(timer);
    rmSync(this.dir, { recursive: true, force: true });
    return code;
  }
}
