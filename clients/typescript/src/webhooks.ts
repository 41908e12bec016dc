import { createHmac, timingSafeEqual } from "node:crypto";
import type { components } from "./schema.js";

/** An event as the API sends it and as webhooks deliver it. */
export type Event = components["schemas"]["Event"];

/** How far a delivery's `webhook-timestamp` may be from now, in seconds, by default: older deliveries may be replays. */
export const WEBHOOK_TOLERANCE_SECONDS = 300;

/** Why {@link verifyWebhook} refused a delivery. */
export type WebhookFailure = "headers" | "timestamp" | "signature" | "secret" | "body";

/** The error {@link verifyWebhook} throws; `reason` says which check failed. */
export class WebhookVerificationError extends Error {
  /** Which check failed: missing or malformed headers, a timestamp out of tolerance, no matching signature, a malformed secret, or a body that is not an event. */
  readonly reason: WebhookFailure;

  constructor(reason: WebhookFailure, message: string) {
    super(message);
    this.name = "WebhookVerificationError";
    this.reason = reason;
  }
}

/** A delivery's headers: a fetch `Headers`, or Node's `req.headers` (names in any letter case). */
export type WebhookHeaders = Headers | Record<string, string | string[] | undefined>;

/**
 * Checks a delivery's Standard Webhooks signature with the endpoint's secret
 * (`whsec_…`) and returns its event. Pass the request body exactly as received
 * (a string or the raw bytes, never re-serialised JSON) and its headers. The
 * signature is `v1,` + base64 HMAC-SHA256 over `webhook-id.webhook-timestamp.body`,
 * keyed with the base64-decoded part of the secret after `whsec_`; the
 * `webhook-signature` header may hold several, space-separated, while a secret
 * rotates. The timestamp must be within `toleranceSeconds` of now.
 *
 * A `toleranceSeconds` that is negative or NaN throws a RangeError: a mistake
 * in the receiver's settings, not a delivery to refuse.
 *
 * A delivery may come more than once: use the event's `id` to do its work once.
 *
 * @throws {WebhookVerificationError}
 * @throws {RangeError} when `toleranceSeconds` is negative or NaN.
 */
export function verifyWebhook(
  payload: string | Uint8Array,
  headers: WebhookHeaders,
  secret: string,
  toleranceSeconds: number = WEBHOOK_TOLERANCE_SECONDS,
): Event {
  // NaN (a missing setting read with Number()) would let every age through.
  if (!(toleranceSeconds >= 0)) {
    throw new RangeError(`capture: toleranceSeconds must be a number of seconds, not ${toleranceSeconds}`);
  }
  const id = header(headers, "webhook-id");
  const ts = header(headers, "webhook-timestamp");
  const sigs = header(headers, "webhook-signature");
  if (!id || !ts || !sigs) {
    throw new WebhookVerificationError("headers", "capture: webhook-id, webhook-timestamp or webhook-signature header missing");
  }
  if (!/^\d+$/.test(ts)) {
    throw new WebhookVerificationError("headers", `capture: webhook-timestamp ${JSON.stringify(ts)} is not Unix seconds`);
  }
  if (Math.abs(Date.now() / 1000 - Number(ts)) > toleranceSeconds) {
    throw new WebhookVerificationError("timestamp", "capture: webhook timestamp outside the tolerance");
  }
  const encoded = secret.startsWith("whsec_") ? secret.slice("whsec_".length) : secret;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) {
    throw new WebhookVerificationError("secret", "capture: the webhook secret is not whsec_ and base64");
  }
  const body = typeof payload === "string" ? Buffer.from(payload, "utf8") : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  const want = createHmac("sha256", Buffer.from(encoded, "base64")).update(`${id}.${ts}.`).update(body).digest();
  let matched = false;
  for (const s of sigs.split(/\s+/)) {
    const comma = s.indexOf(",");
    if (comma < 0 || s.slice(0, comma) !== "v1") continue;
    const got = Buffer.from(s.slice(comma + 1), "base64");
    if (got.length === want.length && timingSafeEqual(got, want)) matched = true;
  }
  if (!matched) {
    throw new WebhookVerificationError("signature", "capture: webhook signature does not match");
  }
  try {
    return JSON.parse(body.toString("utf8")) as Event;
  } catch (err) {
    throw new WebhookVerificationError("body", `capture: the webhook body is not an event: ${(err as Error).message}`);
  }
}

function header(headers: WebhookHeaders, name: string): string | undefined {
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  for (const [k, v] of Object.entries(headers)) {
    if (k.toLowerCase() === name) return Array.isArray(v) ? v.join(" ") : v;
  }
  return undefined;
}
