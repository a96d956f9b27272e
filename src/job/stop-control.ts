// createStopControl(): how a run stops. Graceful first — the caller's signal (SIGINT/SIGTERM)
// or halt() (a whole-run fault, the --rpd cap) stops reading; requests in flight may finish
// for `drainTimeoutSec`, then `abandon` fires and they are dropped (a rerun redoes them).

export interface StopControl {
  /** Aborted when reading must stop (the reader ends its input). */
  readonly reading: AbortSignal;
  /** Aborted when requests still in flight are to be abandoned (the drain timeout). */
  readonly abandon: AbortSignal;
  /** A whole-run fault: say it once, stop reading; the run ends with exit 1. */
  halt(message: string): void;
  /** Stopped by a signal (not by a fault). */
  readonly interrupted: boolean;
  readonly haltMessage: string | undefined;
  /** Removes listeners and the drain timer. */
  dispose(): void;
}

export function createStopControl(o: {
  signal?: AbortSignal;
  drainTimeoutSec: number;
  inFlight: () => number;
  say: (line: string) => void;
  shout: (line: string) => void;
}): StopControl {
  const reading = new AbortController();
  const abandon = new AbortController();
  let interrupted = false;
  let haltMessage: string | undefined;
  let drainTimer: ReturnType<typeof setTimeout> | undefined;
  const onSignal = () => reading.abort(o.signal?.reason);
  const onStop = () => {
    if (drainTimer) return;
    if (!haltMessage) interrupted = true;
    o.say(`gempipe: stopping — no new prompts; waiting up to ${o.drainTimeoutSec}s for ${o.inFlight()} in flight${haltMessage ? '' : ' (Ctrl-C again to quit at once)'}`);
    drainTimer = setTimeout(() => {
      o.say('gempipe: drain timeout — abandoning requests still in flight (a rerun redoes them)');
      abandon.abort(new Error('drain timeout'));
    }, o.drainTimeoutSec * 1000);
    drainTimer.unref?.();
  };
  reading.signal.addEventListener('abort', onStop, { once: true });
  o.signal?.addEventListener('abort', onSignal, { once: true });
  if (o.signal?.aborted) onSignal();
  return {
    reading: reading.signal,
    abandon: abandon.signal,
    halt(message) {
      if (haltMessage) return;
      haltMessage = message;
      o.shout(`gempipe: error: ${message}`);
      reading.abort(new Error(message));
    },
    get interrupted() {
      return interrupted;
    },
    get haltMessage() {
      return haltMessage;
    },
    dispose() {
      if (drainTimer) clearTimeout(drainTimer);
      reading.signal.removeEventListener('abort', onStop);
      o.signal?.removeEventListener('abort', onSignal);
    },
  };
}
