// The retry rules, with answers scripted by a fetch of the test's own: what
// is retried, how long the client waits, what it sends again.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Capture, CaptureError } from "../src/index.js";
import { backoff } from "../src/transport.js";

/** A JSON error answer as the server sends it. */
function apiError(status: number, code: string, headers: Record<string, string> = {}): Response {
  const type = status === 429 ? "rate_limit_error" : status >= 500 ? "api_error" : "invalid_request_error";
  return Response.json(
    { error: { type, code, message: code, request_id: "req_1", doc_url: `https://x/docs#error-${code}` } },
    { status, headers: { "Request-Id": "req_1", ...headers } },
  );
}

const account = () => Response.json({ id: "acct_1", object: "account" });

/** scripted returns a Capture whose attempts get the answers in turn, and what it sent. */
function scripted(answers: (Response | Error)[], options: ConstructorParameters<typeof Capture>[1] = {}) {
  const sent: { method: string; key: string | null; body: string }[] = [];
  const waits: number[] = [];
  const capture = new Capture("sk_test", {
    baseUrl: "http://capture.test",
    backoffBaseMs: 1,
    onRetry: (_e, _n, w) => waits.push(w),
    ...options,
    fetch: async (r) => {
      sent.push({ method: r.method, key: r.headers.get("Idempotency-Key"), body: await r.text() });
      const a = answers.shift();
      if (a === undefined) assert.fail("more attempts than answers");
      if (a instanceof Error) throw a;
      return a;
    },
  });
  return { capture, sent, waits };
}

async function rejects(p: Promise<unknown>): Promise<CaptureError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof CaptureError, `want a CaptureError, got ${String(err)}`);
  return err;
}

describe("retries", () => {
  for (const status of [500, 502, 503, 504]) {
    it(`follow a ${status}`, async () => {
      const { capture, sent } = scripted([apiError(status, "x"), account()]);
      assert.equal((await capture.account.get()).id, "acct_1");
      assert.equal(sent.length, 2);
    });
  }

  it("report a delete whose retry finds the prospect gone as done, as the Go client does", async () => {
    // The first attempt's answer was lost (here a 503 after the deletion): the
    // retry's 410 says the deletion happened, not that it failed.
    const retried = scripted([apiError(503, "x"), apiError(410, "resource_gone")]);
    assert.deepEqual(await retried.capture.prospects.delete("prs_1"), { id: "prs_1", object: "prospect", deleted: true });
    assert.equal(retried.sent.length, 2);
    // On the first attempt, a 410 is the caller's to know: it was gone before.
    const { capture } = scripted([apiError(410, "resource_gone")]);
    assert.equal((await rejects(capture.prospects.delete("prs_1"))).code, "resource_gone");
  });

  it("stop after maxRetries, reporting the attempts", async () => {
    const { capture, sent } = scripted([apiError(503, "overloaded"), apiError(503, "overloaded"), apiError(503, "overloaded")]);
    const e = await rejects(capture.account.get());
    assert.deepEqual([e.status, e.code, e.attempts, sent.length], [503, "overloaded", 3, 3]);
  });

  it("follow 409 idempotency_key_in_use but no other 409 or 4xx", async () => {
    const retried = scripted([apiError(409, "idempotency_key_in_use"), Response.json({ id: "prs_1" }, { status: 201 })]);
    assert.equal((await retried.capture.prospects.create({ email: "a@example.com" })).id, "prs_1");
    for (const [status, code] of [[409, "prospect_exists"], [400, "parameter_invalid"], [404, "resource_missing"], [401, "api_key_invalid"]] as const) {
      const { capture, sent } = scripted([apiError(status, code)]);
      const e = await rejects(capture.prospects.create({ email: "a@example.com" }));
      assert.deepEqual([e.code, sent.length], [code, 1]);
    }
  });

  it("send a POST's body and Idempotency-Key again, the key made once per call", async () => {
    const { capture, sent } = scripted([new TypeError("fetch failed"), apiError(502, "bad_gateway"), Response.json({ id: "prs_1" }, { status: 201 })]);
    await capture.prospects.create({ email: "a@example.com" });
    assert.equal(sent.length, 3);
    assert.ok(sent[0]!.key && sent.every((s) => s.key === sent[0]!.key && s.body === '{"email":"a@example.com"}'));
    const second = scripted([Response.json({ id: "prs_2" }, { status: 201 })]);
    await second.capture.prospects.create({ email: "b@example.com" });
    assert.notEqual(second.sent[0]!.key, sent[0]!.key, "another call, another key");
    const get = scripted([account()]);
    await get.capture.account.get();
    assert.equal(get.sent[0]!.key, null, "a GET needs no key");
  });

  it("wait as Retry-After says, capped by backoffMaxMs", async () => {
    const { capture, waits } = scripted([apiError(429, "rate_limit", { "Retry-After": "30" }), account()], { backoffMaxMs: 5 });
    await capture.account.get();
    assert.deepEqual(waits, [5]);
    assert.equal(backoff(1, 2000, { backoffBaseMs: 500, backoffMaxMs: 20_000 }), 2000);
    for (let n = 1; n <= 8; n++) assert.ok(backoff(n, 0, { backoffBaseMs: 100, backoffMaxMs: 1000 }) <= Math.min(100 * 2 ** (n - 1), 1000));
  });

  it("end when the caller's signal aborts, with the last error", async () => {
    const stop = new AbortController();
    const { capture, sent } = scripted([apiError(503, "maintenance", { "Retry-After": "60" }), account()], {
      backoffMaxMs: 60_000,
      onRetry: () => stop.abort(new Error("shutting down")),
    });
    const e = await rejects(capture.account.get({ signal: stop.signal }));
    assert.deepEqual([e.code, sent.length], ["maintenance", 1]);
  });

  it("refuse a malformed Idempotency-Key before sending", async () => {
    const { capture, sent } = scripted([]);
    const e = await rejects(capture.prospects.create({ email: "a@example.com" }, { idempotencyKey: "ключ" }));
    assert.deepEqual([e.code, e.param, sent.length], ["idempotency_key_invalid", "Idempotency-Key", 0]);
  });
});

describe("an answer that is not Capture's error object", () => {
  it("is an api_error describing it", async () => {
    const html = new Response("<html><body>Bad Gateway</body></html>", { status: 502, headers: { "Content-Type": "text/html" } });
    const { capture } = scripted([html], { maxRetries: 0 });
    const e = await rejects(capture.account.get());
    assert.deepEqual([e.type, e.status, e.code], ["api_error", 502, undefined]);
    assert.match(e.message, /text\/html body.*Bad Gateway/);
  });
});
