// Names shared by the coordinator and its workers (SPEC §12): the BullMQ queue, the key that
// holds how the job asks (its settings), and the job ids (a record id, made safe for BullMQ,
// which forbids ':' in custom ids).

import { createHash } from 'node:crypto';

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
export interface QueueSettings {
  model: string;
  system?: string;
  temperature?: number;
  maxOutputTokens?: number;
  thinkingBudget?: number;
  jsonSchema?: unknown;
  schemaRetries: number;
  maxAttempts: number;
  retryBaseDelayMs: number;
  timeoutMs: number;
  rpm?: number;
  tpm?: number;
  /** --rpd, counted in Redis by every worker. */
  rpd?: number;
  adaptiveRate: boolean;
  quotaId?: string;
}

/** A short fingerprint of the settings: every job carries it, a worker checks it. */
export function settingsFingerprint(s: QueueSettings): string {
  return createHash('sha256').update(JSON.stringify(s)).digest('hex').slice(0, 16);
}
