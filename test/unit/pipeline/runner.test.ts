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

  it('without a store: synchronous (an array, no promise) while no plugin returns a promise; hooks after every onSettle', () => {
    const events: string[] = [];
    const plugin = (name: string, priority: number): GatewayPlugin => ({
      name,
      priority,
      settlesWithoutStore: true,
      onSettle(_job, s) {
        events.push(`settle ${name}`);
        s.trailer.push(Buffer.from(name));
        s.afterCommit(() => events.push(`hook ${name}`));
      },
    });
    const out = new PluginRunner([plugin('a', 2), plugin('b', 1)], recordingDb(events), pino({ level: 'silent' })).settle(job, input);
    assert.ok(Array.isArray(out), 'no promise');
    assert.deepEqual(out.map(String), ['a', 'b']);
    assert.deepEqual(events, ['settle a', 'settle b', 'hook a', 'hook b'], 'no transaction; hooks once all settled');
  });

  it('without a store: a plugin that returns a promise is awaited, and the rest run after it, in order', async () => {
    const events: string[] = [];
    const plugins: GatewayPlugin[] = [
      { name: 'a', priority: 3, settlesWithoutStore: true, onSettle: (_j, s) => void s.afterCommit(() => events.push('hook a')) },
      {
        name: 'b',
        priority: 2,
        settlesWithoutStore: true,
        async onSettle() {
          await new Promise((r) => setImmediate(r));
          events.push('settle b (after a wait)');
        },
      },
      { name: 'c', priority: 1, settlesWithoutStore: true, onSettle: () => void events.push('settle c') },
    ];
    const out = new PluginRunner(plugins, recordingDb(events), pino({ level: 'silent' })).settle(job, input);
    assert.ok(out instanceof Promise);
    assert.deepEqual(events, [], 'hooks wait for every onSettle');
    await out;
    assert.deepEqual(events, ['settle b (after a wait)', 'settle c', 'hook a']);
  });

  it('a failing after-commit hook is logged and the other hooks still run, with or without a store', async () => {
    for (const settlesWithoutStore of [true, false]) {
      const events: string[] = [];
      const logged: string[] = [];
      const log = pino({ level: 'error' }, { write: (line: string) => void logged.push(line) });
      const plugin: GatewayPlugin = {
        name: 'p',
        priority: 1,
        settlesWithoutStore,
        onSettle(_job, s) {
          s.afterCommit(() => {
            throw new Error('hook boom');
          });
          s.afterCommit(() => events.push('second hook'));
        },
      };
      await new PluginRunner([plugin], recordingDb([]), log).settle(job, input);
      assert.deepEqual(events, ['second hook'], `settlesWithoutStore ${settlesWithoutStore}`);
      assert.equal(logged.length, 1);
      assert.match(logged[0]!, /after-commit hook failed/);
    }
  });
});
