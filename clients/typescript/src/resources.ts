import type { Client } from "openapi-fetch";
import { CaptureError } from "./errors.js";
import { checkIdempotencyKey } from "./transport.js";
import { keysetPager, onePagePager, searchPager, type AutoPager } from "./paging.js";
import type { components, operations, paths } from "./schema.js";
import type { RequestOptions } from "./client.js";

type S = components["schemas"];
type Query<Op extends keyof operations> = NonNullable<operations[Op]["parameters"]["query"]>;

export type Prospect = S["Prospect"];
export type ProspectCreate = S["ProspectCreate"];
export type ProspectUpdate = S["ProspectUpdate"];
export type ProspectList = S["ProspectList"];
export type ProspectBatchCreate = S["ProspectBatchCreate"];
export type ProspectBatch = S["ProspectBatch"];
export type DeletedProspect = S["DeletedProspect"];
export type ErasedProspect = S["ErasedProspect"];
export type ProspectExport = S["ProspectExport"];
export type Consent = S["Consent"];
export type Account = S["Account"];
export type EventList = S["EventList"];
export type EventResendParams = S["EventResendParams"];
export type EventResend = S["EventResend"];
export type WebhookEndpoint = S["WebhookEndpoint"];
export type WebhookEndpointCreate = S["WebhookEndpointCreate"];
export type WebhookEndpointUpdate = S["WebhookEndpointUpdate"];
export type DeletedWebhookEndpoint = S["DeletedWebhookEndpoint"];
export type Form = S["Form"];
export type FormCreate = S["FormCreate"];
export type FormUpdate = S["FormUpdate"];
export type DeletedForm = S["DeletedForm"];
export type FormSubmission = S["FormSubmission"];
export type SuppressionLifted = S["SuppressionLifted"];
/** Filters and cursors of {@link ProspectResource.list}. */
export type ProspectListParams = Query<"listProspects">;
/** Filters and cursors of {@link EventResource.list}. */
export type EventListParams = Query<"listEvents">;
/** Page size of {@link ProspectResource.search}. */
export type SearchParams = Omit<Query<"searchProspects">, "query" | "page">;
/** Filters and cursors of {@link FormResource.listSubmissions}. */
export type FormSubmissionListParams = Query<"listFormSubmissions">;

type Api = Client<paths>;

/** unwrap returns an answer's data, and throws its error (the transport throws first; this is the fallback). */
async function unwrap<R extends { data?: unknown; error?: unknown; response: Response }>(p: Promise<R>): Promise<NonNullable<R["data"]>> {
  const r = await p;
  if (r.error !== undefined || r.data === undefined || r.data === null) throw CaptureError.fromResponse(r.response, r.error);
  return r.data as NonNullable<R["data"]>;
}

/** init turns a call's options into openapi-fetch's; it throws on a key that could not be sent. */
function init(o: RequestOptions = {}): { signal?: AbortSignal; headers?: Record<string, string> } {
  if (o.idempotencyKey) checkIdempotencyKey(o.idempotencyKey);
  return { signal: o.signal, headers: o.idempotencyKey ? { "Idempotency-Key": o.idempotencyKey } : undefined };
}

/** `capture.prospects`: the /v1/prospects resource. */
export class ProspectResource {
  constructor(private readonly api: Api) {}

  /** Creates a prospect (201). A live prospect with the email already is a 409 `prospect_exists` with its `existingId`. */
  async create(params: ProspectCreate, o?: RequestOptions): Promise<Prospect> {
    return unwrap(this.api.POST("/v1/prospects", { body: params, ...init(o) }));
  }

  /** Retrieves a prospect: 404 `resource_missing` when unknown, 410 `resource_gone` once deleted. */
  async get(id: string, o?: RequestOptions): Promise<Prospect> {
    return unwrap(this.api.GET("/v1/prospects/{id}", { params: { path: { id } }, ...init(o) }));
  }

  /** Changes the fields given; `null` clears an optional one. */
  async update(id: string, params: ProspectUpdate, o?: RequestOptions): Promise<Prospect> {
    return unwrap(this.api.PATCH("/v1/prospects/{id}", { params: { path: { id } }, body: params, ...init(o) }));
  }

  /**
   * Deletes a prospect; reading it afterwards is 410 `resource_gone`. When a
   * retry finds it already gone, an earlier attempt whose answer was lost did
   * the deletion: that is reported as done, not as a `resource_gone`.
   */
  async delete(id: string, o?: RequestOptions): Promise<DeletedProspect> {
    try {
      return await unwrap(this.api.DELETE("/v1/prospects/{id}", { params: { path: { id } }, ...init(o) }));
    } catch (err) {
      if (err instanceof CaptureError && err.code === "resource_gone" && err.attempts > 1) {
        return { id, object: "prospect", deleted: true };
      }
      throw err;
    }
  }

  /** Fetches one page of prospects, newest first. */
  async listPage(params: ProspectListParams = {}, o?: RequestOptions): Promise<ProspectList> {
    return unwrap(this.api.GET("/v1/prospects", { params: { query: params }, ...init(o) }));
  }

  /** Walks every prospect matching the filters, newest first, page after page (`limit` is the page size). */
  list(params: ProspectListParams = {}, o?: RequestOptions): AutoPager<Prospect> {
    return keysetPager(params, (c) => this.listPage({ ...params, ...c }, o));
  }

  /** Walks every prospect a search query finds (`status:"new" AND email~"example"`), newest first, following `next_page`. */
  search(query: string, params: SearchParams = {}, o?: RequestOptions): AutoPager<Prospect> {
    return searchPager((page) => unwrap(this.api.GET("/v1/prospects/search", { params: { query: { ...params, query, page } }, ...init(o) })));
  }

  /** Creates up to 500 prospects in one request, each answered on its own (`on_conflict`: error, skip or update). */
  async createBatch(params: ProspectBatchCreate, o?: RequestOptions): Promise<ProspectBatch> {
    return unwrap(this.api.POST("/v1/prospects/batch", { body: params, ...init(o) }));
  }

  /** Deletes a prospect everywhere and suppresses its email (admin keys only). */
  async erase(id: string, o?: RequestOptions): Promise<ErasedProspect> {
    return unwrap(this.api.POST("/v1/prospects/{id}/erase", { params: { path: { id } }, ...init(o) }));
  }

  /** Everything held about a prospect, in one answer (admin keys only). */
  async export(id: string, o?: RequestOptions): Promise<ProspectExport> {
    return unwrap(this.api.GET("/v1/prospects/{id}/export", { params: { path: { id } }, ...init(o) }));
  }

  /** Walks a prospect's consent ledger, newest first. */
  listConsents(id: string, params: Query<"listProspectConsents"> = {}, o?: RequestOptions): AutoPager<Consent> {
    return keysetPager(params, (c) =>
      unwrap(this.api.GET("/v1/prospects/{id}/consents", { params: { path: { id }, query: { ...params, ...c } }, ...init(o) })),
    );
  }
}

/** `capture.account`: the key's account. */
export class AccountResource {
  constructor(private readonly api: Api) {}

  /** Retrieves the account the key belongs to, with the key's role. */
  async get(o?: RequestOptions): Promise<Account> {
    return unwrap(this.api.GET("/v1/account", init(o)));
  }
}

/** `capture.events`: the log of changes to prospects, kept 30 days. */
export class EventResource {
  constructor(private readonly api: Api) {}

  /** Retrieves an event. */
  async get(id: string, o?: RequestOptions): Promise<S["Event"]> {
    return unwrap(this.api.GET("/v1/events/{id}", { params: { path: { id } }, ...init(o) }));
  }

  /** Fetches one page of events, newest first. */
  async listPage(params: EventListParams = {}, o?: RequestOptions): Promise<EventList> {
    return unwrap(this.api.GET("/v1/events", { params: { query: params }, ...init(o) }));
  }

  /** Walks every event matching the filters, newest first. */
  list(params: EventListParams = {}, o?: RequestOptions): AutoPager<S["Event"]> {
    return keysetPager(params, (c) => this.listPage({ ...params, ...c }, o));
  }

  /**
   * Delivers an event again (admin keys only): to `params.endpoint`, or without
   * it to every enabled endpoint that receives the event's type; the answer
   * names the endpoints. An unknown event or endpoint is 404 `resource_missing`
   * (`param` `id` or `endpoint`); a disabled endpoint, or one that does not
   * receive the type, 400 `parameter_invalid` on `endpoint`.
   */
  async resend(id: string, params: EventResendParams = {}, o?: RequestOptions): Promise<EventResend> {
    return unwrap(this.api.POST("/v1/events/{id}/resend", { params: { path: { id } }, body: params, ...init(o) }));
  }
}

/** `capture.webhookEndpoints`: where events are delivered (admin keys only). */
export class WebhookEndpointResource {
  constructor(private readonly api: Api) {}

  /** Makes a URL receive the account's events. The answer's `secret` signs every delivery and is shown this once. */
  async create(params: WebhookEndpointCreate, o?: RequestOptions): Promise<WebhookEndpoint> {
    return unwrap(this.api.POST("/v1/webhook_endpoints", { body: params, ...init(o) }));
  }

  /** Retrieves an endpoint with its latest delivery attempts. */
  async get(id: string, o?: RequestOptions): Promise<WebhookEndpoint> {
    return unwrap(this.api.GET("/v1/webhook_endpoints/{id}", { params: { path: { id } }, ...init(o) }));
  }

  /** Changes its `url`, `enabled_events`, `description` or `disabled`. */
  async update(id: string, params: WebhookEndpointUpdate, o?: RequestOptions): Promise<WebhookEndpoint> {
    return unwrap(this.api.PATCH("/v1/webhook_endpoints/{id}", { params: { path: { id } }, body: params, ...init(o) }));
  }

  /** Deletes an endpoint; its pending deliveries are dropped. */
  async delete(id: string, o?: RequestOptions): Promise<DeletedWebhookEndpoint> {
    return unwrap(this.api.DELETE("/v1/webhook_endpoints/{id}", { params: { path: { id } }, ...init(o) }));
  }

  /** Walks every endpoint of the account, newest first, without secrets. */
  list(o?: RequestOptions): AutoPager<WebhookEndpoint> {
    return onePagePager(() => unwrap(this.api.GET("/v1/webhook_endpoints", init(o))));
  }
}

/** `capture.forms`: public web forms and their submissions (admin keys only). */
export class FormResource {
  constructor(private readonly api: Api) {}

  /** Creates a form; its id is all a page needs to submit to it. */
  async create(params: FormCreate, o?: RequestOptions): Promise<Form> {
    return unwrap(this.api.POST("/v1/forms", { body: params, ...init(o) }));
  }

  /** Retrieves a form. */
  async get(id: string, o?: RequestOptions): Promise<Form> {
    return unwrap(this.api.GET("/v1/forms/{id}", { params: { path: { id } }, ...init(o) }));
  }

  /** Changes the fields given, `disabled` among them. */
  async update(id: string, params: FormUpdate, o?: RequestOptions): Promise<Form> {
    return unwrap(this.api.PATCH("/v1/forms/{id}", { params: { path: { id } }, body: params, ...init(o) }));
  }

  /** Deletes a form. */
  async delete(id: string, o?: RequestOptions): Promise<DeletedForm> {
    return unwrap(this.api.DELETE("/v1/forms/{id}", { params: { path: { id } }, ...init(o) }));
  }

  /** Walks every form of the account, newest first. */
  list(o?: RequestOptions): AutoPager<Form> {
    return onePagePager(() => unwrap(this.api.GET("/v1/forms", init(o))));
  }

  /** Walks a form's submissions, newest first, accepted and quarantined. */
  listSubmissions(id: string, params: FormSubmissionListParams = {}, o?: RequestOptions): AutoPager<FormSubmission> {
    // This list pages forwards only (starting_after).
    return keysetPager({ starting_after: params.starting_after }, (c) =>
      unwrap(this.api.GET("/v1/forms/{id}/submissions", { params: { path: { id }, query: { ...params, starting_after: c.starting_after } }, ...init(o) })),
    );
  }

  /** Turns a quarantined submission into its prospect. */
  async approveSubmission(id: string, sid: string, o?: RequestOptions): Promise<FormSubmission> {
    return unwrap(this.api.POST("/v1/forms/{id}/submissions/{sid}/approve", { params: { path: { id, sid } }, ...init(o) }));
  }
}

/** `capture.suppressions`: emails erased prospects leave behind (admin keys only). */
export class SuppressionResource {
  constructor(private readonly api: Api) {}

  /** Lets an erased email be captured again. */
  async lift(email: string, o?: RequestOptions): Promise<SuppressionLifted> {
    return unwrap(this.api.POST("/v1/suppressions/lift", { body: { email }, ...init(o) }));
  }
}
