// PluginRunner.settle: beforeSettle runs outside the settle transaction, before it; a failing
// beforeSettle is logged and the settlement still happens.
import assert from 'node:assert/strict';
import pino from 'pino';
import type { Job } from '../../../src/pipeline/job.js';
import type { GatewayPlugin } from '../../../src/pipeline/plugin.js';
import { PluginRunner } from '../../../src/pipeline/runner.js';
import type { Db, SqlExecutor } from '../../../src/store/db.js';

/** A store that records when its transaction opens and closes. */
function recordingDb(events: string[]): Db {
  const sql: SqlExecutor = { run: async () => 0, get: async () => undefined, all: async () => [] };
  return {
    dialect: 'sqlite',
    ...sql,
    async tx(fn) {
      events.push('tx open');
      try {
        return await fn(sql);
      } finally {
        events.push('tx closed');
      }
    },
    exclusive: (fn) => fn(sql),
    exec: async () => undefined,
    close: async () => undefined,
  };
}

const job = { id: 'job-1' } as Job;
const input = { outcome: 'ok' as const, headersSent: true, delivered: true };

describe('pipeline/runner settle', () => {
  it('beforeSettle runs before the settle transaction opens, then onSettle inside it', async () => {
    const events: string[] = [];
    const plugin: GatewayPlugin = {
      name: 'p',
      priority: 1,
      async beforeSettle() {
        events.push('before start');
        await new Promise((r) => setImmediate(r));
        events.push('before end');
      },
      async onSettle() {
        events.push('settle');
      },
    };
    await new PluginRunner([plugin], recordingDb(events), pino({ level: 'silent' })).settle(job, input);
    assert.deepEqual(events, ['before start', 'before end', 'tx open', 'settle', 'tx closed']);
  });

  it('a failing beforeSettle is logged and the job is still settled', async () => {
    const events: string[] = [];
    const logged: string[] = [];
    const log = pino({ level: 'error' }, { write: (line: string) => void logged.push(line) });
    const plugin: GatewayPlugin = {
      name: 'p',
      priority: 1,
      beforeSettle() {
        throw new Error('boom');
      },
      async onSettle() {
        events.push('settle');
      },
    };
    await new PluginRunner([plugin], recordingDb(events), log).settle(job, input);
    assert.deepEqual(events, ['tx open', 'settle', 'tx closed']);
    assert.equal(logged.length, 1);
    assert.match(logged[0]!, /beforeSettle failed/);
  });
});
