import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { catalogue, parseConfig } from '../../src/compose.js';
import { resolvePlugins } from '../../src/pipeline/manifest.js';
import { PaidEnv } from '../helpers/paid-env.js';

describe('ratelimit: unpaid requests per client address', () => {
  let env: PaidEnv | undefined;
  afterEach(async () => {
    await env?.close();
    env = undefined;
  });

  const ask = (e: PaidEnv, token?: string) =>
    fetch(e.gw.url + '/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { 'x-cashu': token } : {}) },
      body: JSON.stringify({ model: e.model, messages: [{ role: 'user', content: 'Hello' }] }),
    });

  it('runs in the shipped config, generous by default', () => {
    const cfg = parseConfig(readFileSync('config/gateway.yaml', 'utf8'), {});
    assert.ok(resolvePlugins(catalogue, cfg).some((m) => m.name === 'ratelimit'));
    assert.ok(cfg.ratelimit.unpaidBurst >= 60 && cfg.ratelimit.unpaidPerMinute >= 60);
  });

  it('answers 429 rate_limited with Retry-After past the burst; a request with a token is never limited', async () => {
    const e = (env = await PaidEnv.start({ config: { ratelimit: { unpaidBurst: 3, unpaidPerMinute: 1 } } }));
    for (let i = 0; i < 3; i++) {
      const res = await ask(e);
      assert.equal(res.status, 402);
      await res.arrayBuffer();
    }
    const limited = await ask(e);
    assert.equal(limited.status, 429);
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
    assert.equal(((await limited.json()) as { error: { code: string } }).error.code, 'rate_limited');
    const before = await e.assertBooksBalance();

    const paid = await ask(e, await e.token(100));
    assert.equal(paid.status, 200, 'a paying client is served while its address is limited');
    await paid.arrayBuffer();
    const bad = await ask(e, 'cashuBnonsense');
    assert.equal(bad.status, 400, 'a token, even a bad one, is judged by payment, not limited');
    await bad.arrayBuffer();
    const after = await e.assertBooksBalance();
    assert.ok(after.held > before.held);
    const metrics = await (await fetch(e.gw.url + '/metrics')).text();
    assert.match(metrics, /owlrun_payment_errors_total\{reason="rate_limited"\} 1/);
  });
});
