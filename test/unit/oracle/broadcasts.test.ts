import assert from 'node:assert/strict';
import { Broadcasts, checkBroadcast, isCurrent } from '../../../plugins/oracle/broadcasts.js';
import { parseConfig } from '../../../src/compose.js';
import { ConfigError } from '../../../src/config/spec.js';
import { GatewayError } from '../../../src/errors.js';
import { SqliteDb } from '../../../src/store/sqlite.js';

const T = Date.UTC(2025, 0, 10, 12);

describe('oracle broadcasts', () => {
  it('checks announcements', () => {
    const b = checkBroadcast({ id: 'm1', message: 'maintenance', starts_at: '2025-01-10T02:00:00Z', ends_at: '2025-01-10T03:00:00Z' }, 'admin', T);
    assert.equal(b.level, 'info');
    assert.equal(b.startsAt, Date.UTC(2025, 0, 10, 2));
    for (const [input, key] of [
      [{ id: 'a b', message: 'x' }, 'id'],
      [{ id: 'a', message: '' }, 'message'],
      [{ id: 'a', message: 'x'.repeat(2001) }, 'message'],
      [{ id: 'a', message: 'x', level: 'loud' }, 'level'],
      [{ id: 'a', message: 'x', starts_at: 'tomorrow' }, 'starts_at'],
      [{ id: 'a', message: 'x', ends_at: 1736500000 }, 'ends_at'],
      [{ id: 'a', message: 'x', starts_at: '2025-01-10T03:00:00Z', ends_at: '2025-01-10T02:00:00Z' }, 'ends_at'],
    ] as const) {
      assert.throws(() => checkBroadcast(input, 'admin', T), (e: Error) => e.message.startsWith(`${key}:`), JSON.stringify(input));
    }
  });

  it('is current from starts_at (included) to ends_at (excluded)', () => {
    assert.ok(isCurrent({}, T));
    assert.ok(isCurrent({ startsAt: T }, T));
    assert.ok(!isCurrent({ startsAt: T + 1 }, T));
    assert.ok(!isCurrent({ endsAt: T }, T));
    assert.ok(isCurrent({ startsAt: T - 1, endsAt: T + 1 }, T));
  });

  it('a wrong config broadcast stops start-up naming its key', () => {
    const cfg = parseConfig('plugins: []\nbroadcasts: [ { id: m1, message: hi }, { id: m2, message: later, starts_at: "soon" } ]', {});
    assert.throws(() => new Broadcasts(new SqliteDb(':memory:'), cfg.broadcasts, () => T), (e: Error) => e instanceof ConfigError && e.message.includes('broadcasts[1].starts_at'));
    const dup = parseConfig('plugins: []\nbroadcasts: [ { id: m1, message: a }, { id: m1, message: b } ]', {});
    assert.throws(() => new Broadcasts(new SqliteDb(':memory:'), dup.broadcasts, () => T), (e: Error) => e.message.includes('broadcasts[1].id'));
  });

  it('lists config then operator announcements, current ones only; operators replace and remove their own', async () => {
    let now = T;
    const cfg = parseConfig('plugins: []\nbroadcasts: [ { id: c1, message: from config, level: warning, ends_at: "2025-01-11T00:00:00Z" } ]', {});
    const db = new SqliteDb(':memory:');
    const bc = new Broadcasts(db, cfg.broadcasts, () => now);
    await bc.init();
    assert.equal((await bc.put({ message: 'no id given' })).created, true);
    assert.equal((await bc.put({ id: 'a1', message: 'first', starts_at: '2025-01-10T13:00:00Z' })).created, true);
    assert.deepEqual((await bc.current()).map((b) => b.id).slice(0, 1), ['c1']);
    assert.equal((await bc.current()).length, 2, 'a1 starts later');
    now = T + 2 * 3_600_000;
    assert.deepEqual((await bc.current()).map((b) => b.source), ['config', 'admin', 'admin']);
    assert.equal((await bc.put({ id: 'a1', message: 'edited', level: 'critical' })).created, false);
    assert.equal((await bc.current()).find((b) => b.id === 'a1')?.message, 'edited');
    await assert.rejects(bc.put({ id: 'c1', message: 'x' }), (e: Error) => e instanceof GatewayError && e.code === 'invalid_request');
    await assert.rejects(bc.put({ id: 'z', message: 'x', colour: 'red' }), /colour: unknown field/);
    assert.equal(await bc.remove('a1'), true);
    assert.equal(await bc.remove('a1'), false);
    now = Date.UTC(2025, 0, 11);
    assert.deepEqual((await bc.current()).map((b) => b.source), ['admin'], 'c1 ended');
    // a restart (same store) keeps the operator's announcements
    const again = new Broadcasts(db, [], () => now);
    await again.init();
    assert.equal((await again.current()).length, 1);
  });
});
