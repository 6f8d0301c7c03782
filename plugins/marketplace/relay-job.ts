import type { PassThrough } from 'node:stream';
import { NodeRefusedError, transportResponse, type Upstream, type UpstreamResponse } from '../../src/proxy/transport.js';

export interface RelayTimeouts {
  acceptTimeoutMs: number;
  firstChunkTimeoutMs: number;
  chunkGapTimeoutMs: number;
  jobTimeoutMs: number;
}

export type RelayEvent = 'offered' | 'accepted' | 'rejected' | 'timed_out';

/** Bytes a slow client may leave unread before the job is failed (the agent cannot be paused). */
const MAX_BUFFERED = 8 * 1024 * 1024;

/**
 * One job on one agent, from the offer to the end of its byte stream. The agent cannot be
 * told to stop and reports no failure, so the gateway's own timers end every job:
 * no answer to the offer (acceptTimeoutMs) or no first byte after accepting
 * (firstChunkTimeoutMs): refused — nothing was streamed, the job may go to the next node;
 * silence between chunks (chunkGapTimeoutMs) or no proxy_done (jobTimeoutMs): the stream
 * breaks, as an HTTP backend's would. MUST hold: `opened` settles exactly once; after the job
 * ended (any way) its later messages are ignored.
 */
export class RelayJob {
  private state: 'offered' | 'accepted' | 'streaming' | 'ended' = 'offered';
  private requestTaken = false;
  private timer?: NodeJS.Timeout;
  private deadline?: NodeJS.Timeout;
  private response?: UpstreamResponse & PassThrough;
  private resolveOpen!: (u: Upstream) => void;
  private rejectOpen!: (e: Error) => void;
  readonly opened: Promise<Upstream>;

  constructor(
    readonly id: string,
    /** The body the node fetches once (model set to its tag, streaming with usage). */
    private readonly body: Buffer,
    private readonly t: RelayTimeouts,
    private readonly on: { event(e: RelayEvent): void; ended(): void },
  ) {
    this.opened = new Promise<Upstream>((resolve, reject) => {
      this.resolveOpen = resolve;
      this.rejectOpen = reject;
    });
    this.opened.catch(() => undefined);
    this.on.event('offered');
    this.arm(t.acceptTimeoutMs, () => this.refuse('no answer to the job offer', 'timed_out'));
  }

  get ended(): boolean {
    return this.state === 'ended';
  }

  accept(): void {
    if (this.state !== 'offered') return;
    this.state = 'accepted';
    this.on.event('accepted');
    this.arm(this.t.firstChunkTimeoutMs, () => this.refuse('accepted but sent nothing', 'timed_out'));
    this.deadline = setTimeout(() => this.fail('no proxy_done within the job timeout', true), this.t.jobTimeoutMs).unref();
  }

  reject(reason: string): void {
    if (this.state === 'offered') this.refuse(`rejected (${reason.slice(0, 40)})`, 'rejected');
  }

  /** The job's request, for the one fetch of the assigned node after it accepted; then never again. */
  takeRequest(): Buffer | undefined {
    if (this.state !== 'accepted' || this.requestTaken) return undefined;
    this.requestTaken = true;
    return this.body;
  }

  chunk(data: string): void {
    if (this.state === 'ended' || this.state === 'offered' || !this.requestTaken) return;
    if (this.state === 'accepted') {
      this.state = 'streaming';
      this.response = transportResponse('text/event-stream');
      const response = this.response;
      this.resolveOpen({ response, abort: () => this.abort() });
    }
    const response = this.response!;
    if (data.length > 0) response.write(Buffer.from(data, 'utf8'));
    if (response.writableLength > MAX_BUFFERED) return this.fail('the client reads too slowly', false);
    this.arm(this.t.chunkGapTimeoutMs, () => this.fail('silent in the middle of the job', true));
  }

  done(): void {
    if (this.state !== 'streaming') {
      // Done before any byte: an empty answer (nothing to bill); as good as a refusal.
      if (this.state === 'accepted') this.refuse('finished without sending anything', 'rejected');
      return;
    }
    this.finish();
    this.response!.end();
  }

  /** The node's connection closed: whatever it was doing is lost. */
  lost(): void {
    if (this.state === 'streaming') this.fail('the node disconnected', false);
    else if (this.state !== 'ended') this.refuse('the node disconnected', undefined);
  }

  /** The client left, the stream was cut, or it ended: stop listening; later chunks are dropped. */
  abort(): void {
    if (this.state === 'ended') return;
    if (this.state !== 'streaming') return this.refuse('the client went away', undefined);
    this.finish();
    this.response!.destroy();
  }

  private refuse(reason: string, event: RelayEvent | undefined): void {
    this.finish();
    if (event) this.on.event(event);
    this.rejectOpen(new NodeRefusedError(reason));
  }

  private fail(reason: string, timedOut: boolean): void {
    if (this.state === 'ended') return;
    if (this.state !== 'streaming') return this.refuse(reason, timedOut ? 'timed_out' : undefined);
    this.finish();
    if (timedOut) this.on.event('timed_out');
    this.response?.destroy(new Error(reason));
  }

  private finish(): void {
    this.state = 'ended';
    clearTimeout(this.timer);
    clearTimeout(this.deadline);
    this.on.ended();
  }

  private arm(ms: number, fn: () => void): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(fn, ms).unref();
  }
}
