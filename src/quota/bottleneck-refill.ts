// Bottleneck 2.19.5's in-memory store refills its reservoir (reservoirIncrease*) on a heartbeat
// that resets its clock to the heartbeat's firing time, so every late tick loses the lateness
// and a tick that fires a millisecond early loses a whole interval. Measured here (100/s as 5
// every 50 ms, 20 callers, 5 s): heartbeat 50 ms gave 87-93/s, 10 ms gave 98/s. Its own Redis
// script (process_tick.lua) already refills without drift: whole intervals since the last
// refill, the clock advanced by exactly those. This applies that same arithmetic to the
// in-memory store, so one process and a Redis cluster (SPEC §12) refill alike; measured: 100.0/s.
// It also fixes updateSettings(), which in 2.19.5 stops the heartbeat for good (its
// _startHeartbeat() clears a running timer instead of restarting it): rates can change.

import type Bottleneck from 'bottleneck';
import { bottleneckGuard } from './bottleneck-redis.js';

interface LocalStore {
  heartbeat: ReturnType<typeof setInterval> | null;
  heartbeatInterval: number;
  storeOptions: { reservoir: number | null; reservoirIncreaseInterval?: number | null; reservoirIncreaseAmount?: number | null; reservoirIncreaseMaximum?: number | null };
  _lastReservoirIncrease: number;
  computeCapacity(): number | null;
  _startHeartbeat(): void;
}

/**
 * Makes the refill of a local (non-clustered) limiter drift-free; a clustered one is left as is.
 * Returns whether it was applied (another Bottleneck version: a loud warning, and no).
 */
export function useDriftFreeRefill(limiter: Bottleneck): boolean {
  const internals = limiter as unknown as { _store: LocalStore; _drainAll(capacity: number | null): void };
  const store = internals._store;
  if (!bottleneckGuard('the drift-free refill patch') || typeof store?._startHeartbeat !== 'function' || !('heartbeat' in store)) return false;
  const tick = () => {
    const o = store.storeOptions;
    const interval = o.reservoirIncreaseInterval;
    const amount = o.reservoirIncreaseAmount;
    if (interval == null || amount == null || o.reservoir == null) return;
    const now = Date.now();
    if (now < store._lastReservoirIncrease + interval) return;
    const n = Math.floor((now - store._lastReservoirIncrease) / interval);
    store._lastReservoirIncrease += n * interval;
    let incr = amount * n;
    if (o.reservoirIncreaseMaximum != null) incr = Math.min(incr, o.reservoirIncreaseMaximum - o.reservoir);
    if (incr > 0) {
      o.reservoir += incr;
      internals._drainAll(store.computeCapacity());
    }
  };
  store._startHeartbeat = () => {
    if (store.heartbeat) clearInterval(store.heartbeat);
    store.heartbeat = setInterval(tick, store.heartbeatInterval);
    store.heartbeat.unref?.();
  };
  store._startHeartbeat();
  return true;
}
