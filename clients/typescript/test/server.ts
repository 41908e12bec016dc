// Starts a real `capture serve` for the tests: the binary built from this
// repository (or CAPTURE_BIN), a fresh SQLite database, and keys made with the
// admin commands as the docs make them.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);

/** The repository's root, from build/test/ under clients/typescript. */
const root = resolve(fileURLToPath(import.meta.url), "../../../../..");

/** A running server and what the tests need to talk to it. */
export interface LiveServer {
  url: string;
  /** An admin key of the account "ts". */
  adminKey: string;
  /** A standard key of the same account. */
  standardKey: string;
  /** An admin key of the account "ts-slow", limited to 1 request a second. */
  slowKey: string;
  stop(): Promise<void>;
}

export async function startServer(): Promise<LiveServer> {
  const dir = await mkdtemp(join(tmpdir(), "capture-ts-"));
  let bin = process.env.CAPTURE_BIN;
  if (!bin) {
    bin = join(dir, "capture");
    await run("go", ["build", "-o", bin, "./cmd/capture"], { cwd: root });
  }
  const db = join(dir, "capture.db");
  const capture = async (...args: string[]) => (await run(bin, [...args, "--db", db])).stdout.trim();
  await capture("migrate");
  await capture("accounts", "create", "ts");
  await capture("accounts", "create", "ts-slow", "--rate-limit", "1");
  const adminKey = await capture("keys", "create", "--account", "ts", "--role", "admin");
  const standardKey = await capture("keys", "create", "--account", "ts", "--role", "standard");
  const slowKey = await capture("keys", "create", "--account", "ts-slow", "--role", "admin");

  const child: ChildProcess = spawn(
    bin,
    ["serve", "--db", db, "--addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0", "--log-format", "json",
      "--webhooks-allow-private", "--webhook-retry-schedule", "200ms"],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  const logs: string[] = [];
  const url = await new Promise<string>((ok, fail) => {
    child.once("exit", (code) => fail(new Error(`capture serve exited with ${code}:\n${logs.join("\n")}`)));
    createInterface({ input: child.stderr! }).on("line", (line) => {
      logs.push(line);
      try {
        const l = JSON.parse(line) as { msg?: string; addr?: string };
        if (l.msg === "serving" && l.addr) ok(`http://${l.addr}`);
      } catch {
        // not a log line of ours
      }
    });
  });
  return {
    url,
    adminKey,
    standardKey,
    slowKey,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
