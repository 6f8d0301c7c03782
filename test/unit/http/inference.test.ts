import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { AccessLog, accessLine } from '../../../src/http/access-log.js';
import { serveInference } from '../../../src/http/inference.js';
import type { JobDeps } from '../../../src/job/run.js';

describe('inference entry', () => {
  it('answers 503 shutting_down while draining, without starting a job', async () => {
    const jobs = new Proxy({} as JobDeps, { get: () => assert.fail('no job may start while draining') });
    const server = http.createServer((req, res) => void serveInference('openai_chat', req, res, { jobs, isDraining: () => true }));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/chat/completions`, { method: 'POST', body: '{}' });
      assert.equal(res.status, 503);
      assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
      assert.deepEqual(await res.json(), { error: { message: 'the gateway is shutting down', type: 'service_unavailable', code: 'shutting_down' } });
    } finally {
      server.close();
    }
  });
});

describe('access log line', () => {
  it('is the line a pino logger (level info, no base fields) writes for the same fields', () => {
    const fields = { method: 'POST', path: '/v1/chat/completions', status: 200, model: 'qwen "2.5"\n', cost_sats: 7, duration_ms: 12, request_id: 'r-1', job: 'j-1' };
    let written = '';
    const logger = pino({ base: undefined, timestamp: () => ',"time":1700000000000' }, new Writable({ write: (c: Buffer, _e, cb) => ((written += c.toString()), cb()) }));
    logger.info(fields, 'request');
    const line = accessLine({ method: 'POST', path: '/v1/chat/completions', status: 200, model: 'qwen "2.5"\n', costSats: 7, durationMs: 12.4, requestId: 'r-1', job: 'j-1' }, 1700000000000);
    assert.equal(line, written);
  });

  it('leaves out what is unknown (no model, cost or job: a request that started no job)', () => {
    const line = accessLine({ method: 'GET', path: '/healthz', status: 200, durationMs: 0.4, requestId: 'r-2' }, 1);
    assert.equal(line, '{"level":30,"time":1,"method":"GET","path":"/healthz","status":200,"duration_ms":0,"request_id":"r-2","msg":"request"}\n');
  });
});

describe('access log writer', () => {
  it('holds lines for at most its flush delay and writes them in one write; flush() at once', async () => {
    const writes: string[] = [];
    const log = new AccessLog({ write: (text: string) => writes.push(text) }, 20);
    log.write('a\n');
    await new Promise((r) => setImmediate(r));
    log.write('b\n');
    assert.deepEqual(writes, [], 'held across turns');
    await new Promise((r) => setTimeout(r, 40)); // past the flush delay
    assert.deepEqual(writes, ['a\nb\n']);
    log.write('c\n');
    log.flush();
    assert.deepEqual(writes, ['a\nb\n', 'c\n']);
    await new Promise((r) => setTimeout(r, 40));
    assert.equal(writes.length, 2, 'nothing left to write');
  });

  it('writes at once when 64 KiB of lines are held', () => {
    const writes: string[] = [];
    const log = new AccessLog({ write: (text: string) => writes.push(text) }, 60_000);
    const line = `${'x'.repeat(1023)}\n`;
    for (let i = 0; i < 63; i++) log.write(line);
    assert.equal(writes.length, 0);
    log.write(line);
    assert.equal(writes.length, 1);
    assert.equal(writes[0]!.length, 64 * 1024);
    log.flush();
    assert.equal(writes.length, 1, 'nothing held after it');
  });
});

describe('access log writer: what it holds', () => {
  it('keeps every byte of multi-byte lines, in order, across full buffers; a line larger than the buffer goes alone, in order', () => {
    const writes: string[] = [];
    const log = new AccessLog({ write: (text: string) => writes.push(text) }, 60_000);
    const lines: string[] = [];
    for (let i = 0; i < 500; i++) lines.push(`{"model":"modèle-${i}-🦉-${'é'.repeat(i % 97)}"}\n`);
    lines.splice(250, 0, `${'ü'.repeat(40_000)}\n`); // 80 KB in UTF-8: more than the buffer holds
    for (const l of lines) log.write(l);
    log.flush();
    assert.equal(writes.join(''), lines.join(''));
    assert.ok(writes.length > 2, 'written in several writes');
    assert.ok(writes.includes(lines[250]!), 'the oversized line went alone');
  });
});
