// Names shared by the coordinator and its workers (SPEC §12): the BullMQ queue, the key that
// holds how the job asks (its settings), and the job ids (a record id, made safe for BullMQ,
// which forbids ':' in custom ids).

import type { Options } from '../cli/options.js';
import { REQUEST_FIELDS, requestSpecOf, type RequestShape } from '../request/spec.js';

export function queueName(name: string): string {
  return `gempipe-${name}`;
}

export function settingsKey(name: string): string {
  return `gempipe:queue:${name}:settings`;
}

/** A record id as a BullMQ job id: percent-encoded (':' becomes %3A), never all digits. */
export function jobIdOf(recordId: string): string {
  return 'r-' + encodeURIComponent(recordId);
}

export function recordIdOf(jobId: string): string {
  return decodeURIComponent(jobId.slice(2));
}

/** How a worker asks besides the request's shape: retries, limits, the shared quota. */
export type AskSettings = Pick<Options, 'schemaRetries' | 'maxAttempts' | 'retryBaseDelayMs' | 'timeoutMs' | 'rpm' | 'tpm' | 'rpd' | 'adaptiveRate' | 'quotaId'>;
const ASK_FIELDS: ReadonlyArray<keyof AskSettings> = ['schemaRetries', 'maxAttempts', 'retryBaseDelayMs', 'timeoutMs', 'rpm', 'tpm', 'rpd', 'adaptiveRate', 'quotaId'];

/** What a worker needs to ask as the coordinator's run would (SPEC §12: it travels with the job). */
export type QueueSettings = RequestShape & AskSettings;

/** The settings of a run's options (only the fields that travel). */
export function queueSettingsOf(o: QueueSettings): QueueSettings {
  const s: Record<string, unknown> = {};
  for (const k of [...REQUEST_FIELDS, ...ASK_FIELDS]) if (o[k] !== undefined) s[k] = o[k];
  return s as unknown as QueueSettings;
}

/** A short fingerprint of the settings: every job carries it, a worker checks it. */
export function settingsFingerprint(s: QueueSettings): string {
  const ask: Record<string, unknown> = {};
  for (const k of ASK_FIELDS) ask[k] = s[k];
  return requestSpecOf(s).fingerprint(ask);
}
