import type { components } from "./schema.js";

/** The error object the API sends in every non-2xx answer. */
export type ErrorDetail = components["schemas"]["ErrorDetail"];

/**
 * The one error every call throws: an error answer from the API (with its
 * `type`, `code`, `param`, `requestId` and `docUrl`), a network failure
 * (`type: "api_connection_error"`, `status` 0), or a request the client
 * refused to send. `type` and `code` are open strings: a newer server may send
 * values this library does not know, so branch on the ones you handle and fall
 * back on `status`.
 */
export class CaptureError extends Error {
  /** The kind of error: `invalid_request_error`, `authentication_error`, `rate_limit_error`, `api_error`, `api_connection_error`, … */
  readonly type: string;
  /** The stable machine string of the error, such as `parameter_invalid` or `prospect_exists`; undefined when the answer carried none. */
  readonly code: string | undefined;
  /** The request field the error is about (`email`, `metadata.plan`, `tags[3]`), when it is about one. */
  readonly param: string | undefined;
  /** The HTTP status of the answer; 0 when none arrived. */
  readonly status: number;
  /** The request id (the answer's `Request-Id`), to quote when asking for help. */
  readonly requestId: string | undefined;
  /** A link to the error code's section of the API reference. */
  readonly docUrl: string | undefined;
  /** On `prospect_exists`, the id of the live prospect that has the email. */
  readonly existingId: string | undefined;
  /** How long the server asked to wait before a retry (`Retry-After`), in milliseconds; 0 when it did not say. */
  readonly retryAfterMs: number;
  /** How many requests were sent, retries included (0 when none was). */
  attempts: number;

  constructor(init: {
    type: string;
    message: string;
    code?: string;
    param?: string;
    status?: number;
    requestId?: string;
    docUrl?: string;
    existingId?: string;
    retryAfterMs?: number;
    attempts?: number;
    cause?: unknown;
  }) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = "CaptureError";
    this.type = init.type;
    this.code = init.code;
    this.param = init.param;
    this.status = init.status ?? 0;
    this.requestId = init.requestId;
    this.docUrl = init.docUrl;
    this.existingId = init.existingId;
    this.retryAfterMs = init.retryAfterMs ?? 0;
    this.attempts = init.attempts ?? 0;
  }

  /**
   * Builds the error of an answer from its status, headers and body (parsed
   * JSON, or the text when it was not JSON). A body that is not Capture's error
   * object (an HTML page from a proxy, an empty body) becomes an `api_error`
   * that describes it.
   */
  static fromResponse(response: Response, body: unknown, attempts = 1): CaptureError {
    const requestId = response.headers.get("Request-Id") ?? undefined;
    const retryAfterMs = parseRetryAfter(response.headers.get("Retry-After"), Date.now());
    const detail = errorDetail(body);
    if (detail) {
      return new CaptureError({
        type: detail.type,
        code: detail.code,
        message: detail.message || `${response.status} ${response.statusText}`,
        param: detail.param,
        status: response.status,
        requestId: detail.request_id || requestId,
        docUrl: detail.doc_url,
        existingId: detail.existing_id,
        retryAfterMs,
        attempts,
      });
    }
    const contentType = response.headers.get("Content-Type")?.split(";")[0]?.trim() || "untyped";
    let message = `the server answered ${response.status} ${response.statusText} with a ${contentType} body instead of a Capture error object`;
    const text = typeof body === "string" ? body : body === undefined ? "" : JSON.stringify(body);
    const snippet = text.split(/\s+/).join(" ").trim().slice(0, 200);
    if (snippet) message += `: ${JSON.stringify(snippet)}`;
    return new CaptureError({ type: "api_error", message, status: response.status, requestId, retryAfterMs, attempts });
  }
}

/** errorDetail returns the `error` member of an error answer's body, when it is one. */
function errorDetail(body: unknown): ErrorDetail | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  const e = (body as { error?: unknown }).error;
  if (typeof e !== "object" || e === null) return undefined;
  const d = e as Partial<ErrorDetail>;
  return typeof d.type === "string" && d.type !== "" ? (d as ErrorDetail) : undefined;
}

/** parseRetryAfter reads a Retry-After header (delay-seconds or an HTTP date) as milliseconds; 0 when absent or past. */
export function parseRetryAfter(value: string | null, now: number): number {
  const v = value?.trim();
  if (!v) return 0;
  if (/^\d+$/.test(v)) return Math.min(Number(v), 2 ** 30) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) || at <= now ? 0 : at - now;
}
