// The generation loop shared by every kind: plan the output, pace it, stream or reply whole,
// die or fail where the options say, stop when the client goes away.
import { countPromptTokens } from './text.js';
import type { Exchange, Finish, Plan, Reply } from './types.js';

/** Plan the output for an effective cap (undefined = uncapped). */
export function makePlan(ex: Exchange, cap: number | undefined): Plan {
  const tokens = Math.max(0, ex.opts.tokens ?? 5);
  const promptTokens = ex.opts.promptTokens ?? countPromptTokens(ex.body);
  let count = tokens;
  let finish: Finish = 'stop';
  if (cap !== undefined && !ex.opts.ignoreMaxTokens && cap < tokens) {
    count = Math.max(0, Math.floor(cap));
    finish = 'length';
  }
  return { count, finish, promptTokens, ...(ex.opts.reportUsageAs && { lie: ex.opts.reportUsageAs }) };
}

/** The prompt and completion counts a node reports (the real ones unless it lies). */
export function reported(plan: Plan, completion = plan.count): { prompt: number; completion: number } {
  return { prompt: plan.lie?.prompt ?? plan.promptTokens, completion: plan.lie?.completion ?? completion };
}

/** The first of `names` that the body sets to a number (null and absent are skipped). */
export function readCap(body: Record<string, unknown>, names: readonly string[]): number | undefined {
  for (const name of names) {
    const v = body[name];
    if (typeof v === 'number' && Number.isFinite(v)) return v;
  }
  return undefined;
}

export function reportsUsage(ex: Exchange): boolean {
  return ex.opts.reportUsage !== false;
}

/** How a kind renders one streamed response. Each string returned is one write. */
export interface StreamShape {
  readonly status: number;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  /** Send headers before the first token (vLLM/uvicorn); otherwise they go with the first write. */
  readonly earlyHeaders: boolean;
  /** Writes for content token i (0-based). */
  token(i: number): string[];
  /** Writes after the last token: finish chunk, usage, terminal marker. */
  finish(): string[];
  /** The in-stream error writes (errorAfterTokens once something was sent). */
  failure(): string[];
  /** The HTTP error reply used when the failure happens before anything was sent. */
  failureReply(): Reply;
}

function markFirst(ex: Exchange): void {
  ex.tFirst ??= process.hrtime.bigint();
}

async function writeAll(ex: Exchange, chunks: string[]): Promise<void> {
  for (const c of chunks) {
    const wait = ex.wire.write(c);
    if (wait) await wait;
  }
}

/** Kill the connection; a death before any header leaves no status. */
function die(ex: Exchange): Promise<void> {
  if (!ex.res.headersSent) ex.rec.status = 0;
  return ex.wire.die();
}

async function fail(ex: Exchange, shape: StreamShape): Promise<void> {
  if (!ex.res.headersSent) {
    ex.rec.status = shape.failureReply().status;
    ex.wire.send(shape.failureReply());
    return;
  }
  await writeAll(ex, shape.failure());
  ex.wire.end();
}

/** Stream plan.count tokens through shape, honouring delays, backpressure, die/error knobs and aborts. */
export async function runStream(ex: Exchange, plan: Plan, shape: StreamShape): Promise<void> {
  const { wire, opts, rec } = ex;
  rec.stream = true;
  rec.status = shape.status;
  wire.head(shape.status, shape.headers, shape.earlyHeaders);
  const gap = Math.max(0, opts.tokenDelayMs ?? 0);
  await wire.sleep(opts.firstTokenDelayMs ?? 0);
  for (let i = 0; i < plan.count; i++) {
    if (wire.closed) return;
    if (i > 0 && gap > 0) {
      await wire.sleep(gap);
      if (wire.closed) return;
    }
    if (opts.dieAfterTokens === i) return die(ex);
    if (opts.errorAfterTokens === i) return fail(ex, shape);
    markFirst(ex);
    await writeAll(ex, shape.token(i));
    if (!wire.closed) rec.tokensSent++;
  }
  if (wire.closed) return;
  if (opts.dieAfterTokens === plan.count) return die(ex);
  if (opts.errorAfterTokens === plan.count) return fail(ex, shape);
  markFirst(ex);
  await writeAll(ex, shape.finish());
  wire.end();
}

/** Generate plan.count tokens in the dark, then send one reply (or die / fail as configured). */
export async function runWhole(
  ex: Exchange,
  plan: Plan,
  render: () => Reply,
  failureReply: () => Reply,
): Promise<void> {
  const { wire, opts, rec } = ex;
  rec.stream = false;
  const die = opts.dieAfterTokens;
  const err = opts.errorAfterTokens;
  const stopAt = Math.min(plan.count, die ?? Infinity, err ?? Infinity);
  const gap = Math.max(0, opts.tokenDelayMs ?? 0);
  await wire.sleep(opts.firstTokenDelayMs ?? 0);
  if (stopAt > 0) ex.tFirst = process.hrtime.bigint();
  await wire.sleep(gap * Math.max(0, stopAt - 1));
  if (wire.closed) return;
  if (die !== undefined && die <= plan.count && die === stopAt) return wire.die();
  if (err !== undefined && err <= plan.count && err === stopAt) {
    const reply = failureReply();
    rec.status = reply.status;
    return wire.send(reply);
  }
  const reply = render();
  rec.status = reply.status;
  wire.send(reply);
  rec.tokensSent = plan.count;
}

/** Milliseconds between two hrtime stamps. */
export function msBetween(a: bigint, b: bigint): number {
  return Number(b - a) / 1e6;
}

/** Send a whole reply for this request and record its status. */
export function reply(ex: Exchange, r: Reply): void {
  ex.rec.status = r.status;
  ex.wire.send(r);
}
