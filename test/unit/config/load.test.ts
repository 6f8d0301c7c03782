import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseConfig } from '../../../src/compose.js';
import { substituteEnv } from '../../../src/config/load.js';
import { ConfigError } from '../../../src/config/spec.js';

describe('config', () => {
  it('accepts the shipped config/gateway.yaml with every contract key', () => {
    const cfg = parseConfig(readFileSync('config/gateway.yaml', 'utf8'), {});
    assert.equal(cfg.server.port, 8080);
    assert.equal(cfg.server.bodyLimit, 1024 * 1024);
    assert.equal(cfg.server.maxHeaderBytes, 65536);
    assert.equal(cfg.payment.minSatsPerJob, 2);
    assert.equal(cfg.devMint.enabled, true);
    assert.deepEqual(cfg.plugins, ['auth', 'payment', 'metering', 'change', 'oracle']);
    assert.equal(cfg.store.url, 'sqlite:data/owlrun.db');
    assert.equal(cfg.backends[0]?.kind, 'ollama');
    // unset ${ENV} keys count as not set
    assert.deepEqual(cfg.auth.apiKeys, []);
    assert.equal(cfg.admin.key, undefined);
  });

  it('substitutes ${ENV} from the environment', () => {
    assert.equal(substituteEnv('key: "${A}" b: ${B_2}', { A: 'x', B_2: 'y' }), 'key: "x" b: y');
    const cfg = parseConfig('plugins: [auth]\nauth: { apiKeys: [ { id: demo, key: "${K}" } ] }', { K: 'secret' });
    assert.equal(cfg.auth.apiKeys[0]?.key, 'secret');
  });

  it('fills defaults for a config that only names its plugins', () => {
    const cfg = parseConfig('plugins: []', {});
    assert.equal(cfg.server.host, '127.0.0.1');
    assert.equal(cfg.payment.receiptTtl, 7 * 86400);
    assert.equal(cfg.pricing.default.per_m_output_usd, 0.3);
    assert.equal(cfg.nodeTtlSeconds, 90);
  });

  const bad: [string, string][] = [
    ['server: { port: "eighty" }', 'server.port'],
    ['server: { prot: 80 }', 'server.prot'],
    ['backends: [ { id: a, kind: triton, url: "http://x" } ]', 'backends[0].kind'],
    ['backends: [ { id: a, kind: vllm } ]', 'backends[0].url'],
    ['pricing: { models: { m: { per_m_input_usd: -1, per_m_output_usd: 1 } } }', 'pricing.models.m.per_m_input_usd'],
    ['payment: { minSatsPerJob: 0 }', 'payment.minSatsPerJob'],
    ['server: { bodyLimit: lots }', 'server.bodyLimit'],
    ['auth: { required: true }', 'auth.apiKeys'],
    ['plugins: [payment, metering, change]', 'payment.mints'],
    ['plugins: [payment]\npayment: { mints: ["http://m"] }', 'plugins'],
    ['plugins: [nonsense]', 'plugins[0]'],
    ['backends: [ { id: a, kind: vllm, url: "http://x" }, { id: a, kind: vllm, url: "http://y" } ]', 'backends[1].id'],
  ];
  for (const [yaml, path] of bad) {
    it(`a wrong value stops start-up naming ${path}`, () => {
      assert.throws(() => parseConfig(yaml, {}), (err: unknown) => err instanceof ConfigError && err.path === path && err.message.includes(path));
    });
  }

  it('parses sizes and durations', () => {
    const cfg = parseConfig('plugins: []\nserver: { bodyLimit: 64kb }\npayment: { receiptTtl: 2d }\nnodeTtlSeconds: 5m', {});
    assert.equal(cfg.server.bodyLimit, 65536);
    assert.equal(cfg.payment.receiptTtl, 172800);
    assert.equal(cfg.nodeTtlSeconds, 300);
  });
});
