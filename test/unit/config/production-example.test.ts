import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseConfig } from '../../../src/compose.js';

describe('config/production.example.yaml', () => {
  const text = readFileSync(new URL('../../../config/production.example.yaml', import.meta.url), 'utf8');

  it('is valid, takes every secret from the environment, prices from public sources, runs no dev mint', () => {
    const env = { OWLRUN_ADMIN_KEY: 'adm', ALICE_PROVIDER_KEY: 'alice', OWLRUN_DEMO_KEY: 'demo', OWLRUN_METRICS_KEY: 'met' };
    const cfg = parseConfig(text, env);
    assert.equal(cfg.devMint.enabled, false);
    assert.ok(cfg.oracle.sources.length >= 3);
    assert.ok(cfg.oracle.sources.every((s) => s.url.startsWith('https://')));
    assert.ok(cfg.payment.mints.every((m) => m.startsWith('https://')));
    assert.equal(cfg.admin.key, 'adm');
    assert.equal(cfg.providers[0]!.key, 'alice');
    assert.equal(cfg.metrics.key, 'met');
    assert.equal(cfg.server.headersTimeoutMs, 10000);
    assert.ok(!/key:\s*"?[A-Za-z0-9_-]{8,}"?\s*[,}]/.test(text.replace(/\$\{[A-Z_]+\}/g, '')), 'no literal secret in the file');
  });
});
