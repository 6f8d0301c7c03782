import assert from 'node:assert/strict';
import { Buckets, clientKey } from '../../../plugins/ratelimit/buckets.js';

describe('ratelimit buckets', () => {
  it('allows a burst, then one request per refill interval, and says how long to wait', () => {
    let t = 0;
    const b = new Buckets(3, 60, () => t); // 1 a second back
    assert.deepEqual([b.take('a'), b.take('a'), b.take('a')], [0, 0, 0]);
    assert.equal(b.take('a'), 1, 'empty: retry in a second');
    assert.equal(b.take('b'), 0, 'another address has its own bucket');
    t += 1000;
    assert.equal(b.take('a'), 0);
    assert.equal(b.take('a'), 1);
    t += 60_000;
    assert.deepEqual([b.take('a'), b.take('a'), b.take('a'), b.take('a')], [0, 0, 0, 1], 'refills to the burst, not beyond');
  });

  it('forgets refilled buckets and keeps at most maxKeys', () => {
    let t = 0;
    const b = new Buckets(2, 120, () => t, 3);
    for (const k of ['a', 'b', 'c', 'd', 'e']) b.take(k);
    assert.ok(b.size <= 3);
    t += 60_000;
    b.sweep();
    assert.equal(b.size, 0);
  });

  it('keys IPv4 as is (mapped too) and IPv6 by its /64', () => {
    assert.equal(clientKey('10.1.2.3'), '10.1.2.3');
    assert.equal(clientKey('::ffff:10.1.2.3'), '10.1.2.3');
    assert.equal(clientKey('2001:db8:0:1:aaaa::1'), '2001:db8:0:1::/64');
    assert.equal(clientKey('2001:db8:0:1:bbbb:cccc:dddd:eeee'), '2001:db8:0:1::/64');
    assert.equal(clientKey('::1'), '0:0:0:0::/64');
  });
});
