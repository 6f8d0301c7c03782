import assert from 'node:assert/strict';
import { affordableCompletionTokens, costSats as gatewayCost, exactPrice } from '../../../src/billing/price.js';
import { estimatePromptTokens as gatewayEstimate } from '../../../src/billing/estimate.js';
import { estimatePromptTokens, planPrompt, satsPerMillion, type ChatMessage } from '../../../src/web/client/budget.js';


const TEST_PRICE = { per_m_input_usd: 100, per_m_output_usd: 1000 }; // 0.1 / 1 sat per token at $100k
// The chat page plans prompts in the browser with the gateway's own formula (src/billing/price.ts).
const costSats = (p: typeof TEST_PRICE, pt: number, ct: number, r: number, min: number) => gatewayCost(exactPrice(p), pt, ct, r, min);
const affordableTokens = (p: typeof TEST_PRICE, pt: number, sats: number, r: number) => affordableCompletionTokens(exactPrice(p), pt, sats, r);

describe('chat page budget (src/web/client/budget.ts)', () => {
  it('the prompt estimate errs high against the gateway tokenizer', () => {
    const samples: ChatMessage[][] = [
      [{ role: 'user', content: 'Hello owl' }],
      [{ role: 'user', content: 'Explain the Cashu protocol in three sentences, please. '.repeat(20) }],
      [{ role: 'user', content: 'こんにちは、世界。フクロウは夜に飛ぶ。' }, { role: 'assistant', content: '🦉🦉🦉 ok' }, { role: 'user', content: 'code: for (let i = 0; i < 10; i++) { x[i] = i * 2; }' }],
    ];
    for (const messages of samples) assert.ok(estimatePromptTokens(messages) >= gatewayEstimate({ messages }), JSON.stringify(messages));
  });

  it('plans 512 tokens of answer when the balance allows it', () => {
    const plan = planPrompt({ price: TEST_PRICE, btcUsd: 100_000, minSats: 2, messages: [{ role: 'user', content: 'Hi' }], balance: 10_000 });
    assert.deepEqual(plan, { ok: true, amount: costSats(TEST_PRICE, plan.promptTokens, 512, 100_000, 2), maxTokens: 512, promptTokens: plan.promptTokens });
    assert.equal(plan.ok && plan.amount, Math.ceil(plan.promptTokens / 10) + 512);
  });

  it('asks for fewer tokens when the balance is short, never more sats than the balance', () => {
    const plan = planPrompt({ price: TEST_PRICE, btcUsd: 100_000, minSats: 2, messages: [{ role: 'user', content: 'Hi' }], balance: 200 });
    assert.ok(plan.ok);
    assert.ok(plan.amount <= 200);
    assert.equal(plan.maxTokens, affordableTokens(TEST_PRICE, plan.promptTokens, 200, 100_000));
    assert.ok(costSats(TEST_PRICE, plan.promptTokens, plan.maxTokens, 100_000, 2) <= plan.amount, 'the token covers the most the answer can cost');
  });

  it('says how much to top up when not even MIN_TOKENS fit', () => {
    const plan = planPrompt({ price: TEST_PRICE, btcUsd: 100_000, minSats: 2, messages: [{ role: 'user', content: 'Hi' }], balance: 5 });
    assert.equal(plan.ok, false);
    assert.ok(!plan.ok && plan.need === costSats(TEST_PRICE, plan.promptTokens, 16, 100_000, 2) && plan.shortBy === plan.need - 5);
    const empty = planPrompt({ price: TEST_PRICE, btcUsd: 100_000, minSats: 2, messages: [{ role: 'user', content: 'Hi' }], balance: 0 });
    assert.ok(!empty.ok && empty.shortBy === empty.need);
  });

  it('cheap models cost the minimum per job', () => {
    const plan = planPrompt({ price: { per_m_input_usd: 0.02, per_m_output_usd: 0.06 }, btcUsd: 100_000, minSats: 2, messages: [{ role: 'user', content: 'Hi' }], balance: 2 });
    assert.deepEqual(plan.ok && [plan.amount, plan.maxTokens], [2, 512]);
    assert.deepEqual(satsPerMillion({ per_m_input_usd: 0.02, per_m_output_usd: 0.06 }, 100_000), { input: 20, output: 60 });
  });
});
