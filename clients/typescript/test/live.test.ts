// The client against a live `capture serve`: every call here crosses the
// network to the real server.
import assert from "node:assert/strict";
import { createHmac, randomUUID } from "node:crypto";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { Capture, CaptureError, verifyWebhook, WebhookVerificationError, type Prospect } from "../src/index.js";
import { startServer, type LiveServer } from "./server.js";

let server: LiveServer;
let capture: Capture;

// Building the binary on a cold cache takes minutes on a small machine.
before(async () => {
  server = await startServer();
  capture = new Capture(server.adminKey, { baseUrl: server.url });
}, { timeout: 600_000 });
after(async () => server?.stop());

/** A unique email, so tests do not meet each other's prospects. */
const email = (name: string) => `${name}-${randomUUID().slice(0, 8)}@example.com`;

/** rejects awaits p's failure and returns its CaptureError. */
async function rejects(p: Promise<unknown>): Promise<CaptureError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof CaptureError, `want a CaptureError, got ${String(err)}`);
    return err;
  }
  assert.fail("the call succeeded");
}

describe("prospects", () => {
  it("are created, read, updated and deleted", async () => {
    const created = await capture.prospects.create({ email: email("ada").toUpperCase(), first_name: "Ada", tags: ["vip"], metadata: { plan: "pro" } });
    assert.match(created.id, /^prs_/);
    assert.equal(created.email, created.email.toLowerCase());
    assert.deepEqual(await capture.prospects.get(created.id), created);

    const updated = await capture.prospects.update(created.id, { status: "qualified", first_name: null });
    assert.equal(updated.status, "qualified");
    assert.equal(updated.first_name, null);
    assert.deepEqual(updated.metadata, { plan: "pro" });

    const deleted = await capture.prospects.delete(created.id);
    assert.deepEqual(deleted, { id: created.id, object: "prospect", deleted: true });
    const gone = await rejects(capture.prospects.get(created.id));
    assert.equal(gone.status, 410);
    assert.equal(gone.code, "resource_gone");
  });

  it("iterate every page of a list, newest first, and backwards from ending_before", async () => {
    const tag = `page-${randomUUID().slice(0, 8)}`;
    const made: Prospect[] = [];
    for (let i = 0; i < 7; i++) made.push(await capture.prospects.create({ email: email(`p${i}`), tags: [tag] }));
    const newestFirst = made.map((p) => p.id).reverse();

    let requests = 0;
    const counting = new Capture(server.adminKey, { baseUrl: server.url, fetch: (r) => (requests++, fetch(r)) });
    const ids: string[] = [];
    for await (const p of counting.prospects.list({ tag, limit: 2 })) ids.push(p.id);
    assert.deepEqual(ids, newestFirst);
    assert.equal(requests, 4, "7 prospects in pages of 2 take 4 requests");

    const newer = await capture.prospects.list({ tag, limit: 2, ending_before: made[0]!.id }).toArray();
    assert.deepEqual(newer.map((p) => p.id), made.slice(1).map((p) => p.id), "backwards: oldest first from just after the cursor");

    requests = 0;
    const firstThree = await counting.prospects.list({ tag, limit: 2 }).toArray(3);
    assert.deepEqual(firstThree.map((p) => p.id), newestFirst.slice(0, 3));
    assert.equal(requests, 2, "breaking out of the loop fetches no further page");

    const found = await capture.prospects.search(`tag:"${tag}"`, { limit: 3 }).toArray();
    assert.deepEqual(found.map((p) => p.id), newestFirst, "search follows next_page");
  });
});

describe("batches and privacy", () => {
  it("create in batches, export, list consents, erase and lift a suppression", async () => {
    const a = email("batch-a");
    const batch = await capture.prospects.createBatch({ prospects: [{ email: a, marketing_consent: true }, { email: "bad" }, { email: a }] });
    assert.deepEqual([batch.created, batch.failed], [1, 2]);
    assert.deepEqual(batch.data.map((d) => d.status), [201, 400, 409]);
    const id = batch.data[0]!.prospect!.id;

    const exported = await capture.prospects.export(id);
    assert.equal(exported.prospect.id, id);
    const consents = await capture.prospects.listConsents(id).toArray();
    assert.deepEqual(consents.map((c) => c.granted), [true]);

    const erased = await capture.prospects.erase(id);
    assert.deepEqual([erased.id, erased.erased], [id, true]);
    const suppressed = await rejects(capture.prospects.create({ email: a }));
    assert.deepEqual([suppressed.status, suppressed.code], [409, "email_suppressed"]);
    assert.equal((await capture.suppressions.lift(a)).lifted, true);
    assert.equal((await capture.prospects.create({ email: a })).email, a);
  });
});

describe("lists of events, webhook endpoints and forms", () => {
  it("are walked by for await", async () => {
    const p = await capture.prospects.create({ email: email("ev") });
    await capture.prospects.update(p.id, { status: "contacted" });
    const seen: string[] = [];
    for await (const e of capture.events.list({ limit: 1 })) {
      if ((e.data.object as { id: string }).id === p.id) seen.push(e.type);
      if (seen.length === 2) break;
    }
    assert.deepEqual(seen, ["prospect.updated", "prospect.created"]);
    const first = (await capture.events.list({ limit: 1 }).toArray(1))[0]!;
    assert.deepEqual(await capture.events.get(first.id), first);

    const form = await capture.forms.create({ name: "Spring webinar", allowed_origins: ["https://www.example.com"] });
    assert.ok((await capture.forms.list().toArray()).some((f) => f.id === form.id));
    assert.deepEqual(await capture.forms.listSubmissions(form.id).toArray(), []);

    const ep = await capture.webhookEndpoints.create({ url: "https://hooks.example.com/capture", enabled_events: ["*"] });
    const listed = await capture.webhookEndpoints.list().toArray();
    assert.ok(listed.some((e) => e.id === ep.id && e.secret === undefined), "listed without its secret");
    await capture.webhookEndpoints.delete(ep.id);
  });
});

describe("errors", () => {
  it("carry type, code, param, status, request id and doc URL", async () => {
    const bad = await rejects(capture.prospects.create({ email: "not-an-email" }));
    assert.equal(bad.status, 400);
    assert.equal(bad.type, "invalid_request_error");
    assert.equal(bad.code, "parameter_invalid");
    assert.equal(bad.param, "email");
    assert.match(bad.requestId ?? "", /^req_/);
    assert.match(bad.docUrl ?? "", /\/docs#error-parameter_invalid$/);
    assert.match(bad.message, /email/);
    assert.equal(bad.attempts, 1, "a 400 is not retried");

    const unknown = await rejects(capture.prospects.create({ email: email("x"), nickname: "A" } as never));
    assert.deepEqual([unknown.code, unknown.param], ["parameter_unknown", "nickname"]);

    const anonymous = new Capture("sk_" + "0".repeat(40), { baseUrl: server.url });
    const unauthorized = await rejects(anonymous.account.get());
    assert.deepEqual([unauthorized.status, unauthorized.type, unauthorized.code], [401, "authentication_error", "api_key_invalid"]);

    const missing = await rejects(capture.prospects.get("prs_01jdq7z8x4k3m5n6p7q8r9s0t1"));
    assert.deepEqual([missing.status, missing.code, missing.param], [404, "resource_missing", "id"]);

    const standard = new Capture(server.standardKey, { baseUrl: server.url });
    const forbidden = await rejects(standard.webhookEndpoints.create({ url: "https://hooks.example.com/x", enabled_events: ["*"] }));
    assert.deepEqual([forbidden.status, forbidden.code], [403, "admin_key_required"]);
  });

  it("of a conflict name the code and the existing prospect", async () => {
    const addr = email("dup");
    const first = await capture.prospects.create({ email: addr });
    const dup = await rejects(capture.prospects.create({ email: addr }));
    assert.deepEqual([dup.status, dup.code, dup.param, dup.existingId], [409, "prospect_exists", "email", first.id]);
    assert.equal(dup.attempts, 1, "a 409 other than idempotency_key_in_use is not retried");

    const key = `reuse-${randomUUID()}`;
    await capture.prospects.create({ email: email("k1") }, { idempotencyKey: key });
    const reused = await rejects(capture.prospects.create({ email: email("k2") }, { idempotencyKey: key }));
    assert.deepEqual([reused.status, reused.code], [409, "idempotency_key_reused"]);
  });

  it("of the network are api_connection_error, retried", async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const down = new Capture(server.adminKey, { baseUrl: `http://127.0.0.1:${port}`, maxRetries: 1, backoffBaseMs: 1 });
    const e = await rejects(down.account.get());
    assert.deepEqual([e.type, e.status, e.attempts], ["api_connection_error", 0, 2]);

    const nowhere = new Capture(server.adminKey, { baseUrl: "" });
    const none = await rejects(nowhere.account.get());
    assert.equal(none.type, "api_connection_error");
    assert.match(none.message, /no base URL/);
  });
});

describe("retries", () => {
  it("of a create whose answer was lost reuse its idempotency key, so it runs once", async () => {
    const keys: (string | null)[] = [];
    let replayed: string | null = null;
    const lossy = new Capture(server.adminKey, {
      baseUrl: server.url,
      backoffBaseMs: 1,
      fetch: async (r) => {
        keys.push(r.headers.get("Idempotency-Key"));
        const res = await fetch(r);
        if (keys.length === 1) throw new TypeError("fetch failed: the answer was lost");
        replayed = res.headers.get("Idempotent-Replayed");
        return res;
      },
    });
    const addr = email("lost");
    const p = await lossy.prospects.create({ email: addr });
    assert.equal(keys.length, 2);
    assert.ok(keys[0], "a generated Idempotency-Key");
    assert.equal(keys[1], keys[0], "the retry carries the same key");
    assert.equal(replayed, "true", "the server answered the retry from its idempotency store");
    assert.deepEqual((await capture.prospects.list({ email: addr }).toArray()).map((x) => x.id), [p.id]);

    const again = await lossy.prospects.create({ email: email("own") }, { idempotencyKey: `own-${randomUUID()}` });
    assert.match(again.id, /^prs_/);
  });

  it("of a 429 wait for Retry-After, and none are made with maxRetries 0", async () => {
    const waits: number[] = [];
    const patient = new Capture(server.slowKey, { baseUrl: server.url, backoffMaxMs: 3000, onRetry: (e, _n, w) => (assert.equal(e.status, 429), waits.push(w)) });
    for (let i = 0; i < 3; i++) await patient.account.get();
    assert.ok(waits.length > 0, "the rate limit of 1 a second answered 429 and the client retried");
    assert.ok(waits.every((w) => w >= 1000), `waits follow Retry-After: ${waits}`);

    const impatient = new Capture(server.slowKey, { baseUrl: server.url, maxRetries: 0 });
    const errors = await Promise.allSettled([impatient.account.get(), impatient.account.get()]);
    const limited = errors.find((r) => r.status === "rejected");
    assert.ok(limited, "two requests at once within a limit of 1 a second");
    const e = limited.reason as CaptureError;
    assert.deepEqual([e.status, e.type, e.code, e.attempts], [429, "rate_limit_error", "rate_limit", 1]);
    assert.ok(e.retryAfterMs >= 1000);
  });
});

describe("webhooks", () => {
  it("verify a real delivery, and refuse a changed body, another secret or an old timestamp", { timeout: 60_000 }, async () => {
    let deliver!: (d: { body: Buffer; headers: IncomingHttpHeaders }) => void;
    const delivered = new Promise<{ body: Buffer; headers: IncomingHttpHeaders }>((r) => (deliver = r));
    const receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        res.end();
        deliver({ body: Buffer.concat(chunks), headers: req.headers });
      });
    });
    await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
    try {
      const port = (receiver.address() as AddressInfo).port;
      const ep = await capture.webhookEndpoints.create({ url: `http://127.0.0.1:${port}/hook`, enabled_events: ["prospect.created"] });
      assert.match(ep.secret ?? "", /^whsec_/);
      const secret = ep.secret!;
      const p = await capture.prospects.create({ email: email("hook") });
      const { body, headers } = await delivered;
      // An admin key may send it again, to the endpoint named.
      const resent = await capture.events.resend(String(headers["webhook-id"]), { endpoint: ep.id });
      assert.deepEqual(resent, { object: "event_resend", event: headers["webhook-id"], endpoints: [ep.id] });
      await capture.webhookEndpoints.delete(ep.id);
      const unknown = await rejects(capture.events.resend(String(headers["webhook-id"]), { endpoint: ep.id }));
      assert.deepEqual([unknown.status, unknown.code, unknown.param], [404, "resource_missing", "endpoint"]);

      const event = verifyWebhook(body, headers, secret);
      assert.equal(event.type, "prospect.created");
      assert.equal((event.data.object as { id: string }).id, p.id);
      assert.equal(event.id, headers["webhook-id"]);
      assert.equal(verifyWebhook(body.toString("utf8"), new Headers(headers as Record<string, string>), secret).id, event.id);

      const refused = (f: () => unknown) => {
        try {
          f();
        } catch (err) {
          assert.ok(err instanceof WebhookVerificationError);
          return err.reason;
        }
        assert.fail("verified");
      };
      const changed = Buffer.from(body.toString("utf8").replace(p.id, "prs_someoneelse"));
      assert.equal(refused(() => verifyWebhook(changed, headers, secret)), "signature");
      assert.equal(refused(() => verifyWebhook(body, headers, "whsec_" + Buffer.alloc(24).toString("base64"))), "signature");
      assert.equal(refused(() => verifyWebhook(body, { ...headers, "webhook-signature": undefined }, secret)), "headers");

      // The documented scheme, computed here: an old delivery is refused
      // unless the tolerance covers it.
      const old = String(Math.floor(Date.now() / 1000) - 600);
      const sig = createHmac("sha256", Buffer.from(secret.slice(6), "base64")).update(`${event.id}.${old}.`).update(body).digest("base64");
      const oldHeaders = { "webhook-id": event.id, "webhook-timestamp": old, "webhook-signature": `v1,${sig}` };
      assert.equal(refused(() => verifyWebhook(body, oldHeaders, secret)), "timestamp");
      assert.equal(verifyWebhook(body, oldHeaders, secret, 900).id, event.id);
      // A tolerance that is no number of seconds (a missing setting read with
      // Number()) is a mistake to report, not a tolerance of every age.
      for (const tolerance of [Number.NaN, -1]) {
        assert.throws(() => verifyWebhook(body, oldHeaders, secret, tolerance), RangeError, `tolerance ${tolerance}`);
      }
    } finally {
      receiver.closeAllConnections();
      await new Promise((r) => receiver.close(r));
    }
  });
});
