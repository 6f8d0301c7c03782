import assert from 'node:assert/strict';
import { createLogger } from '../../../src/log.js';
import { BackendPool } from '../../../src/proxy/pool.js';

const spec = (url: string) => ({ id: 'n1', kind: 'vllm' as const, url, models: ['m'], maxConcurrent: 1, source: 'config' as const });

describe('backend pool', () => {
  it('regression (issue 11): a job that started on a replaced node frees the room of its replacement', () => {
    const pool = new BackendPool({ intervalMs: 3600_000, timeoutMs: 1000, log: createLogger('silent') });
    const old = pool.add(spec('http://127.0.0.1:1'));
    old.healthy = true;
    old.inFlight++; // a job runs on the node as it was
    const replacement = pool.add(spec('http://127.0.0.1:2'));
    replacement.healthy = true;
    assert.equal(replacement.inFlight, 1, 'the replacement inherits the running job');
    assert.equal(pool.route('m').candidates.length, 0, 'full: maxConcurrent 1');
    old.inFlight--; // the job ends, on the object it started on
    assert.equal(replacement.inFlight, 0);
    assert.deepEqual(pool.route('m').candidates, [replacement], 'its room is free again');
  });
});
