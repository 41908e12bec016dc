/**
 * The Capture API client for TypeScript and Node.js: typed calls generated
 * from openapi.yaml (through openapi-fetch), one error class, retries with
 * idempotency keys, auto-paging lists, and webhook verification.
 */
export { Capture, VERSION, BASE_URL_ENV, type CaptureOptions, type RequestOptions } from "./client.js";
export { CaptureError, type ErrorDetail } from "./errors.js";
export { AutoPager } from "./paging.js";
export { verifyWebhook, WebhookVerificationError, WEBHOOK_TOLERANCE_SECONDS, type Event, type WebhookHeaders, type WebhookFailure } from "./webhooks.js";
export type * from "./resources.js";
export type { components, operations, paths } from "./schema.js";
