// The agent wallet (src/client) against a paid test gateway: wallet files in a scratch directory,
// the stock openai SDK over wallet.fetch, and what each call cost according to the gateway.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import type { OwlrunWallet } from '../../src/client/index.js';
import { getReceipt } from './paid-stream.js';
import type { PaidEnv } from './paid-env.js';

export class ScratchDir {
  readonly path = mkdtempSync(join(tmpdir(), 'owlrun-wallet-'));
  private n = 0;

  file(name = `wallet-${++this.n}.json`): string {
    return join(this.path, name);
  }

  remove(): void {
    rmSync(this.path, { recursive: true, force: true });
  }
}

export function openaiFor(env: { gw: { url: string } }, wallet: OwlrunWallet): OpenAI {
  return new OpenAI({ baseURL: `${env.gw.url}/v1`, apiKey: 'unused', fetch: wallet.fetch, maxRetries: 0 });
}

export interface Call {
  text: string;
  receipt: string;
}

/** One chat call through the SDK, streamed or not; returns the text and the receipt. */
export async function chat(client: OpenAI, model: string, stream: boolean, content = 'Say hello', maxTokens = 40): Promise<Call> {
  const messages = [{ role: 'user' as const, content }];
  if (stream) {
    const { data, response } = await client.chat.completions.create({ model, messages, max_tokens: maxTokens, stream: true }).withResponse();
    let text = '';
    for await (const chunk of data) text += chunk.choices[0]?.delta?.content ?? '';
    return { text, receipt: response.headers.get('x-cashu-receipt') ?? '' };
  }
  const { data, response } = await client.chat.completions.create({ model, messages, max_tokens: maxTokens }).withResponse();
  return { text: data.choices[0]?.message.content ?? '', receipt: response.headers.get('x-cashu-receipt') ?? '' };
}

/** What the gateway billed for each receipt (every one settled). */
export async function costsOf(env: PaidEnv, receipts: string[]): Promise<number> {
  let sum = 0;
  for (const r of receipts) {
    const { status, body } = await getReceipt(env, r);
    assert.equal(status, 200, 'the receipt is known');
    assert.equal(body.status, 'settled');
    sum += body.cost_sats as number;
  }
  return sum;
}
