// List paging as Google's list methods do it (AIP-158): `pageSize` (a default when absent or 0,
// values above the maximum coerced down, a negative one refused), an opaque `pageToken`, and
// `nextPageToken` only when more items follow. The token remembers the last item's position key
// rather than an offset, so an item created between two pages of a newest-first list does not
// shift the next page (no item shown twice, none skipped).

import { invalidArgument, type GoogleError } from './google-errors.js';

export interface PageLimits {
  /** Items per page when pageSize is absent or 0. */
  size: number;
  /** pageSize values above this are treated as this. */
  max: number;
}

export type Page<T> = { items: T[]; nextPageToken?: string } | { error: GoogleError };

/**
 * One page of `items` (already in list order); `keyOf` gives each a unique position key that
 * increases along the list order (a sequence number, negated for newest-first lists).
 */
export function pageOf<T>(items: readonly T[], query: URLSearchParams, limits: PageLimits, keyOf: (t: T) => number): Page<T> {
  const rawSize = query.get('pageSize') ?? query.get('page_size');
  let size = limits.size;
  if (rawSize !== null && rawSize !== '') {
    const n = Number(rawSize);
    if (!Number.isInteger(n)) return { error: invalidArgument(`Invalid value at 'page_size' (TYPE_INT32), "${rawSize}"`) };
    if (n < 0) return { error: invalidArgument('page_size must not be negative.') };
    if (n > 0) size = Math.min(n, limits.max);
  }
  const token = query.get('pageToken') ?? query.get('page_token') ?? '';
  let start = 0;
  if (token !== '') {
    const after = decodeToken(token);
    if (after === undefined) return { error: invalidArgument('Invalid page token.') };
    start = items.findIndex((t) => keyOf(t) > after);
    if (start < 0) start = items.length;
  }
  const page = items.slice(start, start + size);
  const more = start + size < items.length;
  return { items: page, ...(more ? { nextPageToken: encodeToken(keyOf(page[page.length - 1])) } : {}) };
}

function encodeToken(key: number): string {
  return Buffer.from(`p1:${key}`).toString('base64url');
}

function decodeToken(token: string): number | undefined {
  const m = /^p1:(-?\d+)$/.exec(Buffer.from(token, 'base64url').toString('utf8'));
  return m ? Number(m[1]) : undefined;
}
