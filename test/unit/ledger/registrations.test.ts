import assert from 'node:assert/strict';
import { createLogger } from '../../../src/log.js';
import { RegistrationsRepo } from '../../../src/ledger/registrations.js';
import { BackendPool } from '../../../src/proxy/pool.js';
import type { Db } from '../../../src/store/db.js';
import { STORES } from './stores.js';

const T0 = 1_700_000_000_000;
const TTL = 90_000;
const reg = (id: string, provider: string, url: string, seenAt: number) => ({
  id, provider, url, kind: 'ollama' as const, models: ['m'], maxConcurrent: 4, seenAt, expiresAt: seenAt + TTL,
});

for (const store of STORES) {
  describe(`ledger/registrations (${store.name})`, () => {
    let db: Db;
    let drop: () => Promise<void>;
    let repo: RegistrationsRepo;
    beforeEach(async () => {
      ({ db, drop } = await store.open());
      repo = new RegistrationsRepo(db);
      await repo.init();
    });
    afterEach(async () => drop());

    it('records the first announcement, renews on heartbeats, keeps registered_at', async () => {
      const first = await repo.upsert(reg('bob/n1', 'bob', 'http://n1', T0));
      assert.ok('created' in first && first.created);
      const beat = await repo.upsert(reg('bob/n1', 'bob', 'http://n1', T0 + 60_000));
      assert.ok('created' in beat && !beat.created);
      const [live] = await repo.live(T0 + 60_000);
      assert.equal(live!.registeredAt, T0);
      assert.equal(live!.expiresAt, T0 + 60_000 + TTL);
      assert.deepEqual(live!.models, ['m']);
      assert.deepEqual((await repo.ofProvider('bob', T0)).map((r) => r.id), ['bob/n1']);
      assert.deepEqual(await repo.ofProvider('alice', T0), []);
    });

    it("refuses another provider's live URL, and takes it once that one's TTL ran out", async () => {
      await repo.upsert(reg('bob/n1', 'bob', 'http://n1', T0));
      const taken = await repo.upsert(reg('alice/n1', 'alice', 'http://n1', T0 + 1000));
      assert.ok('conflict' in taken && taken.conflict.provider === 'bob');
      const later = await repo.upsert(reg('alice/n1', 'alice', 'http://n1', T0 + TTL));
      assert.ok('created' in later && later.created);
    });

    it('forgets silent nodes at their TTL; a provider can remove only its own', async () => {
      await repo.upsert(reg('bob/n1', 'bob', 'http://n1', T0));
      await repo.upsert(reg('bob/n2', 'bob', 'http://n2', T0 + 10_000));
      assert.deepEqual(await repo.expire(T0 + TTL - 1), []);
      assert.deepEqual(await repo.expire(T0 + TTL), ['bob/n1']);
      assert.deepEqual((await repo.live(T0 + TTL)).map((r) => r.id), ['bob/n2']);
      assert.equal(await repo.remove('bob/n2', 'alice'), false);
      assert.equal(await repo.remove('bob/n2', 'bob'), true);
      assert.deepEqual(await repo.live(T0), []);
    });
  });
}

describe('BackendPool: registered nodes', () => {
  const log = createLogger('silent');
  const spec = (expiresAt: number, url = 'http://n1') => ({ id: 'bob/n1', kind: 'vllm' as const, url, provider: 'bob', models: [], maxConcurrent: 4, source: 'registered' as const, expiresAt });

  it('a heartbeat renews the node in place: health, in-flight count and discovered models kept', () => {
    const pool = new BackendPool({ intervalMs: 1000, timeoutMs: 1000, log });
    const { node, created } = pool.register(spec(T0 + TTL), { ok: true, models: ['m1'] });
    assert.equal(created, true);
    assert.equal(node.healthy, true);
    node.inFlight = 2;
    const again = pool.register(spec(T0 + 2 * TTL));
    assert.equal(again.created, false);
    assert.equal(again.node, node);
    assert.deepEqual([node.healthy, node.inFlight, node.expiresAt, node.listedModels()], [true, 2, T0 + 2 * TTL, ['m1']]);
    const moved = pool.register(spec(T0 + 2 * TTL, 'http://n1-new'));
    assert.notEqual(moved.node, node, 'a new URL is a new node (checked again)');
    assert.equal(moved.node.inFlight, 2);
    assert.equal(moved.node.healthy, false);
  });

  it('expire() removes only registered nodes whose TTL ran out; configured nodes are never replaced', () => {
    const pool = new BackendPool({ intervalMs: 1000, timeoutMs: 1000, log });
    pool.add({ id: 'gpu-1', kind: 'vllm', url: 'http://gpu', models: ['m'], maxConcurrent: 8, source: 'config' });
    pool.register(spec(T0 + TTL));
    assert.deepEqual(pool.expire(T0 + TTL - 1), []);
    assert.deepEqual(pool.expire(T0 + TTL), ['bob/n1']);
    assert.deepEqual(pool.all().map((n) => n.id), ['gpu-1']);
    assert.throws(() => pool.register({ ...spec(T0), id: 'gpu-1' }), /configured/);
  });
});
