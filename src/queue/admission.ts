import type { RouteKind } from '../pipeline/job.js';
import type { BackendNode } from '../proxy/node.js';
import type { BackendPool } from '../proxy/pool.js';

// The admission queue: a job takes a slot (one of a node's `maxConcurrent`) before anything is
// claimed; when every healthy node for its model is full it waits here, first come first served,
// for up to `maxWaitMs`. Transport-agnostic: any node in the pool (HTTP or not) is a slot source.
//
// Invariant: a waiter never sits next to a free slot it could use. A released slot is handed to
// the oldest waiter whose model the node serves (the in-flight count moves with it, never drops);
// anything else that adds room (a node turning healthy, registering, raising maxConcurrent) must
// call `pump()`.

export interface QueueOptions {
  /** Longest wait for a free node; 0 = refuse at once when every node is full. */
  maxWaitMs: number;
  /** Most requests waiting at once (all models); beyond it, refuse at once. */
  maxLength: number;
}

export type AdmissionFailure = 'no_backend_for_model' | 'backend_unavailable' | 'client_gone';

export type Admission =
  | { ok: true; slot: Slot; waitedMs: number }
  | { ok: false; code: AdmissionFailure; message: string; waitedMs: number };

/** Where each wait ended, for owlrun_queue_wait_seconds. */
export type WaitOutcome = 'admitted' | 'timeout' | 'client_gone' | 'unavailable';

export interface QueueObserver {
  depth(n: number): void;
  waited(seconds: number, outcome: WaitOutcome): void;
  refusedFull(): void;
}

/** One reserved place on a node. `release` is idempotent and hands the place to the next waiter. */
export class Slot {
  private released = false;

  constructor(
    private readonly queue: AdmissionQueue,
    public node: BackendNode,
  ) {}

  get held(): boolean {
    return !this.released;
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.queue.release(this.node);
  }

  /** Failover: gives this place back and takes one on the best other node with room, at once (no wait). */
  moveOn(model: string, tried: ReadonlySet<BackendNode>, route?: RouteKind): boolean {
    if (this.released) return false;
    const next = this.queue.takeNow(model, tried, route);
    this.queue.release(this.node);
    if (!next) {
      this.released = true;
      return false;
    }
    this.node = next;
    return true;
  }
}

interface Waiter {
  readonly model: string;
  readonly route?: RouteKind;
  readonly since: number;
  settle(node: BackendNode | undefined, outcome: WaitOutcome): void;
  prev?: Waiter;
  next?: Waiter;
}

export class AdmissionQueue {
  private head?: Waiter;
  private tail?: Waiter;
  private length = 0;

  constructor(
    private readonly pool: BackendPool,
    private readonly opts: QueueOptions,
    private readonly observer?: QueueObserver,
  ) {}

  get depth(): number {
    return this.length;
  }

  /**
   * A slot on the best node for `model` with room, now or after waiting in line. Never throws.
   * Refused at once: a model no node serves, no healthy node serving it, a full queue.
   * `route`: only nodes that run that kind of request (e.g. chat only) count. `clientSignal`: the
   * client's abort signal, or a function making it, called only when the request cannot be
   * admitted at once (a job admitted at once needs none).
   */
  admit(model: string, clientSignal: AbortSignal | (() => AbortSignal), route?: RouteKind): Promise<Admission> {
    const slot = this.takeSlot(model, route);
    if (slot) return Promise.resolve({ ok: true, slot, waitedMs: 0 });
    const signal = typeof clientSignal === 'function' ? clientSignal() : clientSignal;
    const fail = (code: AdmissionFailure, message: string): Promise<Admission> => Promise.resolve({ ok: false, code, message, waitedMs: 0 });
    if (signal.aborted) return fail('client_gone', 'the client went away');
    if (!this.pool.knows(model, route)) return fail('no_backend_for_model', `no backend serves model "${model}"`);
    if (!this.anyHealthy(model, route)) return fail('backend_unavailable', `no healthy node serves model "${model}"`);
    if (this.opts.maxWaitMs <= 0 || this.length >= this.opts.maxLength) {
      this.observer?.refusedFull();
      return fail('backend_unavailable', `every node for model "${model}" is busy and the queue is full`);
    }
    return this.wait(model, signal, route);
  }

  /** A slot on the best node for `model` with room now, without waiting (what admit tries first); else none. */
  takeSlot(model: string, route?: RouteKind): Slot | undefined {
    const node = this.takeNow(model, undefined, route);
    return node ? new Slot(this, node) : undefined;
  }

  private wait(model: string, signal: AbortSignal, route: RouteKind | undefined): Promise<Admission> {
    return new Promise<Admission>((resolve) => {
      const since = performance.now();
      let timer: NodeJS.Timeout | undefined;
      let done = false;
      const onAbort = (): void => w.settle(undefined, 'client_gone');
      const w: Waiter = {
        model,
        route,
        since,
        settle: (node, outcome) => {
          if (done) return;
          done = true;
          this.unlink(w);
          clearTimeout(timer);
          signal.removeEventListener('abort', onAbort);
          const waitedMs = performance.now() - since;
          this.observer?.waited(waitedMs / 1000, outcome);
          if (node) return resolve({ ok: true, slot: new Slot(this, node), waitedMs });
          if (outcome === 'client_gone') return resolve({ ok: false, code: 'client_gone', message: 'the client went away', waitedMs });
          const message = outcome === 'timeout'
            ? `every node for model "${model}" stayed busy for ${Math.round(waitedMs / 1000)} s`
            : `no healthy node serves model "${model}" any more`;
          resolve({ ok: false, code: 'backend_unavailable', message, waitedMs });
        },
      };
      this.link(w);
      timer = setTimeout(() => w.settle(undefined, 'timeout'), this.opts.maxWaitMs);
      timer.unref?.();
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Takes a slot on the best node with room (not in `exclude`), or none. Counts it in flight. */
  takeNow(model: string, exclude?: ReadonlySet<BackendNode>, route?: RouteKind): BackendNode | undefined {
    for (const node of this.pool.route(model, route).candidates) {
      if (exclude?.has(node)) continue;
      node.inFlight++;
      return node;
    }
    return undefined;
  }

  /** A slot on `node` is free: the oldest waiter that can run there takes it, else it is freed. */
  release(node: BackendNode): void {
    if (node.healthy && node.inFlight <= node.maxConcurrent) {
      for (let w = this.head; w; w = w.next) {
        if (node.serves(w.model, w.route)) return w.settle(node, 'admitted');
      }
    }
    node.inFlight--;
    if (this.length > 0 && node.hasRoom) this.pump();
  }

  /**
   * Re-examines every waiter in order: admits those whose model now has room, refuses those whose
   * model has no healthy node left. Call whenever room appears other than by a release.
   */
  pump(): void {
    for (let w = this.head; w; ) {
      const next = w.next;
      const node = this.takeNow(w.model, undefined, w.route);
      if (node) w.settle(node, 'admitted');
      else if (!this.anyHealthy(w.model, w.route)) w.settle(undefined, 'unavailable');
      w = next;
    }
  }

  private anyHealthy(model: string, route?: RouteKind): boolean {
    return this.pool.all().some((n) => n.healthy && n.serves(model, route));
  }

  private link(w: Waiter): void {
    w.prev = this.tail;
    if (this.tail) this.tail.next = w;
    else this.head = w;
    this.tail = w;
    this.length++;
    this.observer?.depth(this.length);
  }

  private unlink(w: Waiter): void {
    if (w.prev === undefined && this.head !== w) return; // already out
    if (w.prev) w.prev.next = w.next;
    else this.head = w.next;
    if (w.next) w.next.prev = w.prev;
    else this.tail = w.prev;
    w.prev = w.next = undefined;
    this.length--;
    this.observer?.depth(this.length);
  }
}
