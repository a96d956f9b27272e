// createParallelStage(): the generic parallel map behind every layer (SPEC §9's
// Layer(work, 8)): items in, work(item) results out, at most `concurrency` items in progress.
// A Duplex rather than a Transform: Transform only holds its write callback when something was
// pushed synchronously, and results here arrive later, so this stage holds the callback itself
// while every slot is busy or its readable buffer is full — upstream stops when downstream is
// slow, and nothing queues without bound. `ordered` emits in input order (a finished item waits
// for those before it, keeping its slot). work() resolving null drops the item; rejecting
// destroys the stage (a whole-run fault), aborting the signal every in-progress work() got.
// An item that must wait long (a 429's RetryInfo) can park(): its slot takes the next input
// meanwhile (at most `concurrency` parked), and unpark() takes a slot back before any new input.

import { setMaxListeners } from 'node:events';
import { Duplex } from 'node:stream';

export interface ParallelTiming {
  /** Wall time with free slots and no input to fill them. */
  readWaitMs: number;
  /** Wall time held because the readable side was full (downstream slow). */
  writeWaitMs: number;
}

export interface ParallelStageOptions<I, O> {
  work: (item: I, signal: AbortSignal) => Promise<O | null>;
  /** @default 8 */
  concurrency?: number;
  /** @default false */
  ordered?: boolean;
  /** Aborting it aborts every work() in progress (their results are then dropped). */
  signal?: AbortSignal;
  /** Readable-side buffer, in items. @default 64 */
  highWaterMark?: number;
  timing?: ParallelTiming;
}

/** A long wait without a slot: park() frees it (false: too many parked), unpark() takes one back. */
export interface Parking {
  park(): boolean;
  /** Resolves once a slot is this item's again (at once when `signal` is aborted: it is ending). */
  unpark(signal?: AbortSignal): Promise<void>;
}

export function createParallelStage<I, O>(options: ParallelStageOptions<I, O>): Duplex & Parking {
  return new ParallelStage<I, O>({ ...options });
}

class ParallelStage<I, O> extends Duplex implements Parking {
  readonly #work: (item: I, signal: AbortSignal) => Promise<O | null>;
  readonly #concurrency: number;
  readonly #ordered: boolean;
  readonly #timing: ParallelTiming;
  readonly #abort = new AbortController();
  readonly #signal: AbortSignal;
  #inFlight = 0;
  #held: ((err?: Error | null) => void) | null = null;
  #final: ((err?: Error | null) => void) | null = null;
  #nextSeq = 0;
  #nextEmit = 0;
  readonly #done = new Map<number, O | null>();
  #idleSince: number;
  #blockedSince = 0;
  #parked = 0;
  readonly #unparking: Array<() => void> = [];

  constructor(o: ParallelStageOptions<I, O>) {
    super({ objectMode: true, highWaterMark: o.highWaterMark ?? 64, writableHighWaterMark: 1 });
    const concurrency = o.concurrency ?? 8;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new TypeError(`Expected \`concurrency\` to be an integer >= 1, got \`${concurrency}\``);
    }
    this.#work = o.work;
    this.#concurrency = concurrency;
    this.#ordered = o.ordered ?? false;
    this.#timing = o.timing ?? { readWaitMs: 0, writeWaitMs: 0 };
    // Work in progress ends on the stage's own abort (destroy) or the caller's signal.
    this.#signal = o.signal ? AbortSignal.any([this.#abort.signal, o.signal]) : this.#abort.signal;
    setMaxListeners(0, this.#signal); // every work item in progress listens on this one signal
    this.#idleSince = Date.now();
  }

  override _write(item: I, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.#idleSince) {
      this.#timing.readWaitMs += Date.now() - this.#idleSince;
      this.#idleSince = 0;
    }
    const seq = this.#nextSeq++;
    this.#inFlight++;
    let p: Promise<O | null>;
    try {
      p = this.#work(item, this.#signal);
    } catch (err) {
      p = Promise.reject(err);
    }
    p.then(
      (out) => this.#complete(seq, out),
      (err: Error) => this.destroy(err),
    );
    this.#held = cb;
    this.#release();
  }

  park(): boolean {
    if (this.#parked >= this.#concurrency || this.destroyed) return false;
    this.#parked++;
    this.#inFlight--;
    this.#release();
    return true;
  }

  unpark(signal?: AbortSignal): Promise<void> {
    const take = () => {
      this.#parked--;
      this.#inFlight++;
    };
    if (this.#inFlight < this.#concurrency || signal?.aborted || this.destroyed) {
      take();
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const go = () => {
        signal?.removeEventListener('abort', onAbort);
        take();
        resolve();
      };
      const onAbort = () => {
        const i = this.#unparking.indexOf(go);
        if (i >= 0) this.#unparking.splice(i, 1);
        go();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#unparking.push(go);
    });
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.#idleSince = 0;
    if (this.#inFlight === 0 && this.#parked === 0) {
      this.push(null);
      cb();
    } else {
      this.#final = cb;
    }
  }

  override _read(): void {
    // The consumer wants more. Readable calls _read *before* it takes the chunk out of the
    // buffer, so the buffer may still look full here: skip that check (as Transform does).
    this.#release(true);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.#abort.abort(err ?? new Error('parallel stage destroyed'));
    this.#held = null;
    this.#final = null;
    this.#done.clear();
    for (const go of this.#unparking.splice(0)) go();
    cb(err);
  }

  #release(consumerAsked = false): void {
    // A parked item whose wait is over goes before any new input.
    while (this.#unparking.length > 0 && this.#inFlight < this.#concurrency) this.#unparking.shift()!();
    if (!this.#held || this.#inFlight >= this.#concurrency) return;
    if (!consumerAsked && this.readableLength >= this.readableHighWaterMark) {
      if (!this.#blockedSince) this.#blockedSince = Date.now();
      return;
    }
    if (this.#blockedSince) {
      this.#timing.writeWaitMs += Date.now() - this.#blockedSince;
      this.#blockedSince = 0;
    }
    const cb = this.#held;
    this.#held = null;
    this.#idleSince = Date.now();
    cb();
  }

  #complete(seq: number, out: O | null): void {
    if (this.destroyed) return;
    if (this.#ordered) {
      this.#done.set(seq, out);
      while (this.#done.has(this.#nextEmit)) {
        const r = this.#done.get(this.#nextEmit)!;
        this.#done.delete(this.#nextEmit++);
        this.#emit(r);
      }
    } else {
      this.#emit(out);
    }
    if (this.#final && this.#inFlight === 0 && this.#parked === 0) {
      const cb = this.#final;
      this.#final = null;
      this.push(null);
      cb();
    } else {
      this.#release();
    }
  }

  #emit(r: O | null): void {
    this.#inFlight--;
    if (r !== null) this.push(r);
  }
}
