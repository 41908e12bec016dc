import createClient, { type Client } from "openapi-fetch";
import { CaptureError } from "./errors.js";
import { retryingFetch, type FetchLike } from "./transport.js";
import {
  AccountResource,
  EventResource,
  FormResource,
  ProspectResource,
  SuppressionResource,
  WebhookEndpointResource,
} from "./resources.js";
import type { paths } from "./schema.js";

/** The version of this library, sent in the User-Agent header. */
export const VERSION = "1.0.0";

/** The environment variable the base URL is read from when no `baseUrl` is given. */
export const BASE_URL_ENV = "CAPTURE_URL";

/** Options of {@link Capture}. Durations are in milliseconds. */
export interface CaptureOptions {
  /** The server, such as `https://capture.example.com` or `http://127.0.0.1:8080`; a path prefix is kept. Defaults to the CAPTURE_URL environment variable; there is no default server. */
  baseUrl?: string;
  /** How many times a failed request is sent again (default 2, so 3 attempts at most); 0 turns retries off. */
  maxRetries?: number;
  /** The n-th retry waits a random time between 0 and backoffBaseMs·2ⁿ⁻¹ (default 500). */
  backoffBaseMs?: number;
  /** The longest wait between attempts, a server's Retry-After included (default 20 000). */
  backoffMaxMs?: number;
  /** Bounds each attempt: connecting, sending, reading the answer (default 30 000). An AbortSignal given to a call bounds the whole call. */
  timeoutMs?: number;
  /** Names your application in the User-Agent header, ahead of this library's name. */
  userAgent?: string;
  /** The fetch each attempt goes through (default the global fetch): for proxies, tests, or another runtime. */
  fetch?: FetchLike;
  /** Called before each wait for a retry with the error, the number of the attempt about to be sent (2 for the first retry) and the wait. */
  onRetry?: (error: CaptureError, attempt: number, waitMs: number) => void;
}

/** Options of a single call. */
export interface RequestOptions {
  /** The Idempotency-Key of a POST or PATCH instead of a generated one, so that your own retry (after a crash, from a queue) is recognised as the same request. GET and DELETE ignore it. */
  idempotencyKey?: string;
  /** Ends the call, retries included, when it aborts. */
  signal?: AbortSignal;
}

/**
 * A client of the Capture API. Every failure is thrown as a
 * {@link CaptureError}; requests that can succeed on a second try (network
 * errors, 409 idempotency_key_in_use, 429, 500, 502, 503, 504) are retried
 * with backoff, each POST and PATCH carrying one Idempotency-Key across its
 * retries. Create one and share it.
 *
 * ```ts
 * const capture = new Capture(process.env.CAPTURE_API_KEY!, { baseUrl: "http://127.0.0.1:8080" });
 * const p = await capture.prospects.create({ email: "ada@example.com" });
 * for await (const q of capture.prospects.list({ status: "new" })) console.log(q.id);
 * ```
 */
export class Capture {
  /** Prospects: create, get, update, delete, list, search, batch, erase, export, consents. */
  readonly prospects: ProspectResource;
  /** The account the key belongs to. */
  readonly account: AccountResource;
  /** The log of changes to prospects. */
  readonly events: EventResource;
  /** Where events are delivered (admin keys only). */
  readonly webhookEndpoints: WebhookEndpointResource;
  /** Public web forms and their submissions (admin keys only). */
  readonly forms: FormResource;
  /** Lifting the suppression of erased emails (admin keys only). */
  readonly suppressions: SuppressionResource;
  /**
   * The typed openapi-fetch client underneath, for any operation of the
   * contract: `capture.raw.GET("/v1/account")`. It authenticates, retries and
   * throws {@link CaptureError} as the methods above do.
   */
  readonly raw: Client<paths>;

  constructor(apiKey: string, options: CaptureOptions = {}) {
    const baseUrl = options.baseUrl ?? process.env[BASE_URL_ENV] ?? "";
    const baseError = checkBaseUrl(baseUrl);
    const send = retryingFetch(options.fetch ?? ((r) => fetch(r)), {
      maxRetries: Math.max(options.maxRetries ?? 2, 0),
      backoffBaseMs: Math.max(options.backoffBaseMs ?? 500, 0),
      backoffMaxMs: Math.max(options.backoffMaxMs ?? 20_000, options.backoffBaseMs ?? 0),
      timeoutMs: options.timeoutMs ?? 30_000,
      onRetry: options.onRetry,
    });
    const headers: Record<string, string> = {
      Accept: "application/json",
      "User-Agent": [options.userAgent, `capture-typescript/${VERSION}`].filter(Boolean).join(" "),
    };
    if (apiKey) headers.Authorization = `Bearer ${apiKey}`;
    this.raw = createClient<paths>({
      baseUrl: baseError ? "http://invalid.invalid" : baseUrl,
      headers,
      fetch: async (request: Request) => {
        if (baseError) throw baseError();
        return send(request);
      },
    });
    this.prospects = new ProspectResource(this.raw);
    this.account = new AccountResource(this.raw);
    this.events = new EventResource(this.raw);
    this.webhookEndpoints = new WebhookEndpointResource(this.raw);
    this.forms = new FormResource(this.raw);
    this.suppressions = new SuppressionResource(this.raw);
  }
}

/** checkBaseUrl returns a maker of the error every call throws when the base URL is missing or malformed. */
function checkBaseUrl(raw: string): (() => CaptureError) | undefined {
  if (raw === "") {
    return () =>
      new CaptureError({
        type: "api_connection_error",
        message: `no base URL: pass { baseUrl: "https://…" } to new Capture or set ${BASE_URL_ENV}`,
      });
  }
  let ok = false;
  try {
    const u = new URL(raw);
    ok = (u.protocol === "http:" || u.protocol === "https:") && u.host !== "";
  } catch {
    ok = false;
  }
  if (ok) return undefined;
  return () =>
    new CaptureError({
      type: "api_connection_error",
      message: `invalid base URL ${JSON.stringify(raw)}: want an absolute http or https URL such as https://capture.example.com`,
    });
}
