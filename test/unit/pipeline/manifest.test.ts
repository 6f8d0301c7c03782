import assert from 'node:assert/strict';
import { catalogue, parseConfig } from '../../../src/compose.js';
import { ConfigError } from '../../../src/config/spec.js';
import { definePlugin, resolvePlugins, type PluginCatalogue } from '../../../src/pipeline/manifest.js';
import { serviceKey } from '../../../src/pipeline/services.js';

const names = (listed: string[]) => resolvePlugins(catalogue, parseConfig(`plugins: [${listed.join(', ')}]\npayment: { mints: ["http://m"] }`, {})).map((m) => m.name);

describe('plugin manifests', () => {
  it('plugins: [payment] stops start-up naming payment and every plugin it lacks', () => {
    assert.throws(
      () => parseConfig('plugins: [payment]\npayment: { mints: ["http://m"] }', {}),
      (err: unknown) => err instanceof ConfigError && err.path === 'plugins' && /payment/.test(err.message) && /"metering"/.test(err.message) && /"change"/.test(err.message),
    );
    assert.throws(() => names(['payment', 'metering']), (err: unknown) => err instanceof ConfigError && /"change"/.test(err.message) && !/"metering"/.test(err.message));
  });

  it('metrics always runs, providers comes with change, ratelimit with payment (declared, not added by the core)', () => {
    assert.deepEqual(names([]), ['metrics']);
    assert.deepEqual(names(['oracle']).sort(), ['metrics', 'oracle']);
    const money = names(['auth', 'payment', 'metering', 'change']);
    assert.deepEqual([...money].sort(), ['auth', 'change', 'metering', 'metrics', 'payment', 'providers', 'ratelimit']);
    assert.ok(money.indexOf('metering') < money.indexOf('payment') && money.indexOf('change') < money.indexOf('payment'), 'providers of a need are created first');
  });

  it('a plugin owns its config keys: they are validated (and defaulted) even when it does not run', () => {
    const cfg = parseConfig('plugins: []', {});
    assert.equal(cfg.nodeTtlSeconds, 90);
    assert.deepEqual(cfg.broadcasts, []);
    assert.throws(() => parseConfig('plugins: []\nnodeTtlSeconds: soon', {}), (err: unknown) => err instanceof ConfigError && err.path === 'nodeTtlSeconds');
  });

  it('a need no catalogue plugin provides is named by its service', () => {
    const Ghost = serviceKey<number>('ghost');
    const lonely = definePlugin({ name: 'lonely', priority: 1, needs: [Ghost], create: async () => ({ close: async () => undefined }) });
    const cat: PluginCatalogue = { manifests: [lonely], defaults: [] };
    assert.throws(() => resolvePlugins(cat, { plugins: ['lonely'] }), (err: unknown) => err instanceof ConfigError && /lonely/.test(err.message) && /"ghost"/.test(err.message));
  });
});
