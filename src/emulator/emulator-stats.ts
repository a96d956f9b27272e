// What the emulator counts, for tests and benchmarks (GET /emulator/stats serves it): requests,
// answers by status, in flight, tokens, and per second what its quota admitted and refused.

/** What the server admitted and refused in one second since it started (utilisation on its side). */
export interface SecondStats {
  /** Requests the quota admitted (answered, or refused afterwards by shared capacity). */
  admitted: number;
  /** Quota 429s (rpm/tpm/rpd). */
  refused: number;
  /** Shared-capacity 429s without details, on admitted requests. */
  capacity429: number;
  /** The rpm limit in force at the end of that second, when there is one. */
  rpm?: number;
}

export interface EmulatorStats {
  requests: number;
  ok: number;
  byStatus: Record<string, number>;
  http429: number;
  inFlight: number;
  maxInFlight: number;
  promptTokens: number;
  /** Requests the quotas admitted, in all (a batchEmbedContents call counts its texts). */
  admitted: number;
  /** Quota 429s, in all (shared-capacity ones not counted). */
  quota429: number;
  /** Shared-capacity 429s, in all. */
  capacity429: number;
  /** streamGenerateContent requests among `requests`. */
  streams: number;
  /** Per second since the start: admitted and refused (index = second). */
  perSecond: SecondStats[];
  /** prompt -> successful answers (with trackPrompts). */
  successes: Map<string, number>;
  /** arrival time (ms since start) and status, per request (with log). */
  log: Array<{ t: number; status: number; prompt: string }>;
}

/** A running emulator (server.ts startEmulator()). */
export interface Emulator {
  url: string;
  port: number;
  stats: EmulatorStats;
  /** The Files and Batch endpoints' counters. */
  batch: { readonly uploads: number; readonly downloads: number; readonly filesDeleted: number; readonly batchesCreated: number; readonly batchesDeleted: number; readonly createsRefused: number };
  /** The cachedContents endpoints' counters, and implicit cache hits. */
  caches: { readonly created: number; readonly deleted: number; readonly implicitHits: number };
  close(): Promise<void>;
}
