// The emulator's Batch API vocabulary (batch.ts): its options, a batch and its requests as kept,
// how a request is answered and a model checked, and the type URLs of the service's messages.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GoogleError } from './google-errors.js';

export type BatchKind = 'generate' | 'embed';

export interface BatchOptions {
  /** Divides the batch's pending, running and lag times. @default 1 */
  timeScale?: number;
  /** Pending time before the scale (ms). @default 60000 */
  pendingMs?: number;
  /** Running time before the scale (ms). @default 600000 */
  runningMs?: number;
  /** Time between SUCCEEDED and the responses being readable, before the scale (ms). @default 0 */
  resultLagMs?: number;
  /** During that lag: the output is `absent` from the job, or named but `not-found` (403 on reading it). @default "absent" */
  resultLagMode?: 'absent' | 'not-found';
  /** The first this many creates are refused with a 429 (the Batch API's own limits). @default 0 */
  refuseCreates?: number;
  /** The 429 those creates get. @default the service's quota 429 (a Help link, no RetryInfo) */
  refuseError?: GoogleError;
  /** Responses files in a seeded shuffled order, as the service promises none. @default true */
  shuffle?: boolean;
  /** @default 1 */
  seed?: number;
  /** Per-request errors as the service writes them, google.rpc.Status (`rpc`), or HTTP-shaped `{code: 503, status}` (`http`, the emulator's old shape). @default "rpc" */
  errorShape?: 'rpc' | 'http';
  /** Told of each call (tests kill a client at chosen steps). */
  onEvent?: (kind: 'create' | 'get' | 'list' | 'cancel' | 'delete') => void;
  /** Run on each request at create, before the job is stored (the service fetches a request's URLs then). */
  prefetch?: (request: unknown) => Promise<void>;
}

/** Answers one request of a batch as the online method would (no latency, no quota, no online scripts). */
export type BatchAnswer = (kind: BatchKind, model: string, request: unknown) => { response: unknown } | { error: GoogleError };

/** Resolves a model for a create: undefined if served, else the 404. */
export type ModelCheck = (kind: BatchKind, model: string, version: string) => GoogleError | undefined;

export interface Item {
  key?: string;
  request?: unknown;
  metadata?: unknown;
  /** The request's text, for scripts. */
  text: string;
}

export interface Ended {
  state: string;
  at: number;
  /** When the responses can be read (after the lag). */
  readyAt: number;
  file?: string;
  inline?: unknown[];
  ok: number;
  failed: number;
}

export interface Batch {
  name: string;
  seq: number;
  kind: BatchKind;
  displayName: string;
  model: string;
  inputConfig: unknown;
  items: Item[];
  inline: boolean;
  created: number;
  cancelled?: number;
  ended?: Ended;
}

export interface BatchService {
  /** Handles the request if it is one of these endpoints; false otherwise. */
  handle(req: IncomingMessage, res: ServerResponse, url: URL, body: Buffer): Promise<boolean>;
  readonly stats: { batchesCreated: number; deleted: number; refused: number };
}

export const TYPES: Record<BatchKind, { batch: string; output: string }> = {
  generate: { batch: 'type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch', output: 'type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatchOutput' },
  embed: { batch: 'type.googleapis.com/google.ai.generativelanguage.v1main.EmbedContentBatch', output: 'type.googleapis.com/google.ai.generativelanguage.v1main.EmbedContentBatchOutput' },
};
