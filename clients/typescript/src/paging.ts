/**
 * AutoPager walks every item of a list, fetching pages as the loop needs
 * them: `for await (const p of capture.prospects.list()) …`. A failed page
 * throws its {@link CaptureError} from the loop. Breaking out of the loop
 * fetches no further page.
 */
export class AutoPager<T> implements AsyncIterable<T> {
  readonly #walk: () => AsyncGenerator<T>;

  /** @internal Lists make their pagers; see the resources' list methods. */
  constructor(walk: () => AsyncGenerator<T>) {
    this.#walk = walk;
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return this.#walk();
  }

  /** Collects the items into an array, at most `max` of them (every item by default). */
  async toArray(max = Infinity): Promise<T[]> {
    const out: T[] = [];
    if (max <= 0) return out;
    for await (const item of this) {
      out.push(item);
      if (out.length >= max) break;
    }
    return out;
  }
}

/** Cursors of a keyset-paginated list (prospects, events, consents, submissions). */
export interface Cursors {
  starting_after?: string;
  ending_before?: string;
}

/**
 * keysetPager follows `has_more` with `starting_after` set to the last item's
 * id: newest first, starting after `after`. With only `ending_before` set, it
 * walks from just before it towards the newest, each page's items yielded
 * oldest first, so the walk is in one direction.
 */
export function keysetPager<T extends { id: string }>(
  start: Cursors,
  fetch: (cursors: Cursors) => Promise<{ data: T[]; has_more: boolean }>,
): AutoPager<T> {
  return new AutoPager(async function* () {
    let { starting_after: after, ending_before: before } = start;
    const backwards = before !== undefined && after === undefined;
    for (;;) {
      const page = await fetch(backwards ? { ending_before: before } : { starting_after: after, ending_before: before });
      const items = backwards ? [...page.data].reverse() : page.data;
      yield* items;
      const edge = backwards ? page.data[0] : page.data[page.data.length - 1];
      if (!page.has_more || edge === undefined) return;
      if (backwards) before = edge.id;
      else after = edge.id;
    }
  });
}

/**
 * onePagePager yields the items of a list that the API answers whole, in one
 * page and without cursors (webhook endpoints, forms: an account has few).
 */
export function onePagePager<T>(fetch: () => Promise<{ data: T[] }>): AutoPager<T> {
  return new AutoPager(async function* () {
    yield* (await fetch()).data;
  });
}

/** searchPager follows a search's `next_page` cursor while `has_more` is true. */
export function searchPager<T>(fetch: (page: string | undefined) => Promise<{ data: T[]; has_more: boolean; next_page?: string | null }>): AutoPager<T> {
  return new AutoPager(async function* () {
    let next: string | undefined;
    for (;;) {
      const page = await fetch(next);
      yield* page.data;
      if (!page.has_more || !page.next_page || page.data.length === 0) return;
      next = page.next_page;
    }
  });
}
