// Reading paid responses the way a client does: SSE / NDJSON events, the change event, the
// receipt; and the money checks every paid test makes (cost + change = paid, the change
// redeems for exactly change_sats, the books balance).
import assert from 'node:assert/strict';
import { receiptHash, type JobRow } from '../../src/ledger/jobs.js';
import type { PaidEnv } from './paid-env.js';

export interface ChangeEvent {
  type: 'cashu_change';
  token: string;
  change_sats: number;
  cost_sats: number;
}

export interface Settled {
  /** What the job cost, and the change, as the gateway told the client. */
  cost: number;
  change: number;
  token: string;
  receipt: string;
}

export const chatBody = (env: PaidEnv, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  model: env.model,
  messages: [{ role: 'user', content: 'Say hello' }],
  ...extra,
});

export function post(env: PaidEnv, path: string, body: Record<string, unknown>, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<Response> {
  return fetch(env.gw.url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
    signal,
  });
}

/** The `data:` payloads of an SSE text, in order (comment-only events left out). */
export function sseData(text: string): string[] {
  return text
    .split('\n\n')
    .filter((e) => e.length > 0)
    .map((e) =>
      e
        .split('\n')
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).replace(/^ /, ''))
        .join('\n'),
    )
    .filter((d) => d.length > 0);
}

export function ndjsonLines(text: string): Record<string, unknown>[] {
  assert.ok(text.endsWith('\n'), 'an NDJSON stream ends with a line feed');
  return text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

export function asChange(v: unknown): ChangeEvent {
  const c = (typeof v === 'string' ? JSON.parse(v) : v) as ChangeEvent;
  assert.equal(c.type, 'cashu_change', `the last event is the change event: ${JSON.stringify(v)}`);
  assert.equal(typeof c.change_sats, 'number');
  assert.equal(typeof c.cost_sats, 'number');
  assert.equal(typeof c.token, 'string');
  return c;
}

/** Text the client received in the data events of an OpenAI stream. */
export function streamedText(data: string[]): string {
  let s = '';
  for (const d of data) {
    if (d === '[DONE]') continue;
    const j = JSON.parse(d) as { choices?: { delta?: { content?: string | null }; text?: string }[] };
    for (const c of j.choices ?? []) s += (c.delta?.content ?? '') + (c.text ?? '');
  }
  return s;
}

/** Content-carrying events of an OpenAI stream. */
export function contentEvents(data: string[]): number {
  let n = 0;
  for (const d of data) {
    if (d === '[DONE]') continue;
    const j = JSON.parse(d) as { choices?: { delta?: { content?: string | null }; text?: string }[] };
    if ((j.choices ?? []).some((c) => (c.delta?.content ?? '') !== '' || (c.text ?? '') !== '')) n++;
  }
  return n;
}

/** An SSE response read to the end: the events before the change, and the change event (last). */
export async function readSse(res: Response): Promise<{ data: string[]; change: ChangeEvent; text: string }> {
  const text = await res.text();
  const all = sseData(text);
  assert.ok(all.length > 0, 'the stream carried events');
  assert.ok(text.endsWith('\n\n'), 'the SSE stream ends with a complete event');
  return { data: all.slice(0, -1), change: asChange(all[all.length - 1]), text };
}

/** An NDJSON response read to the end: the lines before the change, and the change line (last). */
export async function readNdjson(res: Response): Promise<{ lines: Record<string, unknown>[]; change: ChangeEvent }> {
  const lines = ndjsonLines(await res.text());
  return { lines: lines.slice(0, -1), change: asChange(lines[lines.length - 1]) };
}

/** The figures of a non-streaming paid response (headers). */
export function fromHeaders(res: Response): Settled {
  const cost = res.headers.get('x-cashu-cost-sats');
  const change = res.headers.get('x-cashu-change-sats');
  assert.notEqual(cost, null, 'X-Cashu-Cost-Sats is sent');
  assert.notEqual(change, null, 'X-Cashu-Change-Sats is sent');
  return { cost: Number(cost), change: Number(change), token: res.headers.get('x-cashu-change') ?? '', receipt: receiptOf(res) };
}

export function fromEvent(res: Response, ev: ChangeEvent): Settled {
  return { cost: ev.cost_sats, change: ev.change_sats, token: ev.token, receipt: receiptOf(res) };
}

export function receiptOf(res: Response): string {
  const r = res.headers.get('x-cashu-receipt');
  assert.match(r ?? '', /^[A-Za-z0-9_-]{22,}$/, 'X-Cashu-Receipt is sent');
  return r!;
}

/**
 * The money checks of every paid test: paid = cost + change (+ the mint's input fee), the change
 * token redeems with the client's wallet for exactly change_sats, the receipt agrees, and the
 * gateway's books balance. Returns the books.
 */
export async function assertMoney(env: PaidEnv, paid: number, s: Settled, opts: { inputFee?: number; cost?: number } = {}) {
  if (opts.cost !== undefined) assert.equal(s.cost, opts.cost, 'cost');
  assert.equal(s.cost + s.change + (opts.inputFee ?? 0), paid, `cost ${s.cost} + change ${s.change} = paid ${paid}`);
  if (s.change > 0) assert.match(s.token, /^cashu[AB]/);
  else assert.equal(s.token, '', 'no change: empty token');
  const byReceipt = await getReceipt(env, s.receipt);
  assert.equal(byReceipt.status, 200);
  assert.deepEqual(byReceipt.body, { status: 'settled', token: s.token, change_sats: s.change, cost_sats: s.cost });
  assert.equal(await env.redeem(s.token), s.change, 'the change redeems for exactly change_sats');
  return env.assertBooksBalance();
}

export async function getReceipt(env: PaidEnv | { gw: { url: string } }, receipt: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${env.gw.url}/v1/change/${encodeURIComponent(receipt)}`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** The job's journal row, by its receipt. */
export async function jobRow(env: PaidEnv, receipt: string): Promise<JobRow> {
  const row = await env.gw.db.get<JobRow>(`SELECT * FROM jobs WHERE receipt_hash = ?`, [receiptHash(receipt)]);
  assert.ok(row, 'the job is in the journal');
  return row;
}

/** Polls cond (every 20 ms) until it holds; fails after `ms`. For state changes with no event to wait on. */
export async function waitFor(cond: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
