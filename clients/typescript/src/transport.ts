import { randomBytes } from "node:crypto";
import { CaptureError } from "./errors.js";

/** How a {@link Capture} client retries; see {@link CaptureOptions}. */
export interface RetryPolicy {
  maxRetries: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  timeoutMs: number;
  onRetry?: (error: CaptureError, attempt: number, waitMs: number) => void;
}

/** A fetch function as the client uses it: one Request in, its Response out. */
export type FetchLike = (input: Request) => Promise<Response>;

/**
 * retryingFetch sends one logical request until it succeeds, fails for good or
 * the retries run out, and throws a {@link CaptureError} for every failure.
 * A POST or PATCH without an Idempotency-Key gets one here, once, so that each
 * retry carries the same key and a retried create never runs twice.
 */
export function retryingFetch(baseFetch: FetchLike, policy: RetryPolicy): FetchLike {
  return async (request: Request): Promise<Response> => {
    if (request.method === "POST" || request.method === "PATCH") {
      const key = request.headers.get("Idempotency-Key");
      if (key === null || key === "") {
        request.headers.set("Idempotency-Key", newIdempotencyKey());
      } else {
        checkIdempotencyKey(key);
      }
    }
    const where = `${request.method} ${redact(request.url)}`;
    let last: CaptureError | undefined;
    for (let attempt = 1; ; attempt++) {
      if (request.signal.aborted) {
        // Stopped before this attempt: the previous attempt's error says more.
        if (last) throw last;
        throw new CaptureError({ type: "api_connection_error", message: `${where} stopped: ${reason(request.signal)}`, cause: request.signal.reason });
      }
      const error = await attemptOnce(baseFetch, request, policy.timeoutMs, where);
      if (error instanceof Response) return error;
      error.attempts = attempt;
      if (attempt > policy.maxRetries || !retryable(error)) throw error;
      last = error;
      const waitMs = backoff(attempt, error.retryAfterMs, policy);
      policy.onRetry?.(error, attempt + 1, waitMs);
      await sleep(waitMs, request.signal);
    }
  };
}

/**
 * attemptOnce sends request once and reads the whole answer, so that a
 * connection that breaks mid-body is a (retryable) connection error. It
 * returns the answer when it is a success, else the error it stands for.
 */
async function attemptOnce(baseFetch: FetchLike, request: Request, timeoutMs: number, where: string): Promise<Response | CaptureError> {
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = AbortSignal.any([request.signal, timeout]);
  try {
    const response = await baseFetch(new Request(request.clone(), { signal }));
    const body = await response.arrayBuffer();
    const rebuilt = new Response(response.status === 204 || response.status === 304 ? null : body, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
    if (response.ok) return rebuilt;
    const text = new TextDecoder().decode(body);
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // Not JSON: fromResponse describes the text.
    }
    return CaptureError.fromResponse(rebuilt, parsed);
  } catch (err) {
    if (err instanceof CaptureError) return err;
    if (request.signal.aborted) {
      const e = new CaptureError({ type: "api_connection_error", message: `${where} stopped: ${reason(request.signal)}`, cause: err });
      final.add(e);
      return e;
    }
    if (timeout.aborted) {
      return new CaptureError({ type: "api_connection_error", message: `${where} timed out after ${timeoutMs} ms`, cause: err });
    }
    const code = causeCode(err);
    const e = new CaptureError({
      type: "api_connection_error",
      message: `network error on ${where}: ${code ?? (err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err))}`,
      cause: err,
    });
    // Retrying cannot make a certificate trusted or a plain HTTP server speak TLS.
    if (code !== undefined && /CERT|SSL|TLS/.test(code)) final.add(e);
    return e;
  }
}

/** Errors that retrying cannot fix although their type usually can be. */
const final = new WeakSet<CaptureError>();

/**
 * retryable follows the Go client: connection errors, 409
 * idempotency_key_in_use, 429, 500, 502, 503 and 504; never another 4xx, and
 * never an error the client made before sending.
 */
export function retryable(e: CaptureError): boolean {
  if (final.has(e)) return false;
  if (e.type === "api_connection_error") return true;
  switch (e.status) {
    case 409:
      return e.code === "idempotency_key_in_use";
    case 429:
    case 500:
    case 502:
    case 503:
    case 504:
      return true;
  }
  return false;
}

/**
 * backoff is the wait before retry number n (1 for the first): the server's
 * Retry-After when it sent one, else a random duration up to base·2ⁿ⁻¹ ("full
 * jitter", which spreads clients out after an outage); both capped by backoffMaxMs.
 */
export function backoff(n: number, retryAfterMs: number, p: Pick<RetryPolicy, "backoffBaseMs" | "backoffMaxMs">): number {
  if (retryAfterMs > 0) return Math.min(retryAfterMs, p.backoffMaxMs);
  const limit = Math.min(p.backoffBaseMs * 2 ** (n - 1), p.backoffMaxMs);
  return limit > 0 ? Math.floor(Math.random() * (limit + 1)) : 0;
}

/**
 * checkIdempotencyKey refuses a key the server would reject, before anything
 * is sent (a character beyond Latin-1 would otherwise fail inside fetch and
 * look like a bug).
 */
export function checkIdempotencyKey(key: string): void {
  if (/^[\x20-\x7e]{1,255}$/.test(key)) return;
  throw new CaptureError({
    type: "invalid_request_error",
    code: "idempotency_key_invalid",
    param: "Idempotency-Key",
    message: "Idempotency-Key must be 1 to 255 printable ASCII characters.",
  });
}

/** newIdempotencyKey returns 26 random base32 characters, as the Go client's keys are. */
export function newIdempotencyKey(): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  return Array.from(randomBytes(26), (b) => alphabet[b % 32]).join("");
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (ms <= 0 || signal.aborted) return resolve();
    const done = () => {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

function reason(signal: AbortSignal): string {
  const r: unknown = signal.reason;
  return r instanceof Error ? r.message : String(r);
}

/** causeCode returns the system error code (ECONNREFUSED, CERT_HAS_EXPIRED, …) under a fetch failure. */
function causeCode(err: unknown): string | undefined {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && code !== "UND_ERR_SOCKET") return code;
  }
  return undefined;
}

/** redact drops the query string's values, which may hold personal data such as an email filter. */
function redact(url: string): string {
  const u = new URL(url);
  for (const k of [...u.searchParams.keys()]) u.searchParams.set(k, "…");
  return u.pathname + (u.search ? decodeURIComponent(u.search) : "");
}
