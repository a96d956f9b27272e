// Names shared by the coordinator and its workers (SPEC §12): the BullMQ queue, the key that
// holds how the job asks (its settings), and the job ids (a record id, made safe for BullMQ,
// which forbids ':' in custom ids).

import { createHash } from 'node:crypto';
import type { Options } from '../cli/options.js';

export const DEFAULT_QUEUE = 'gempipe';

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

/** What a worker needs to ask as the coordinator's run would (SPEC §12: it travels with the job). */
export type QueueSettings = Pick<Options, 'model' | 'system' | 'temperature' | 'maxOutputTokens' | 'thinkingBudget' | 'jsonSchema' | 'schemaRetries'
  | 'maxAttempts' | 'retryBaseDelayMs' | 'timeoutMs' | 'rpm' | 'tpm' | 'rpd' | 'adaptiveRate' | 'quotaId'>;

/** A short fingerprint of the settings: every job carries it, a worker checks it. */
export function settingsFingerprint(s: QueueSettings): string {
  return createHash('sha256').update(JSON.stringify(s)).digest('hex').slice(0, 16);
}
