import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { startSimulator, type Simulator } from '../helpers/simulators/index.js';

const MAIN = ['--import', 'tsx', 'src/main.ts'];

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Starts the CLI on a free port; resolves with its URL once it logs that it listens. */
function startCli(configFile: string): Promise<{ child: ChildProcess; url: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...MAIN, '--config', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /"url":"(http:\/\/127\.0\.0\.1:\d+)","msg":"owlrun gateway listening"/.exec(out);
      if (m) resolve({ child, url: m[1]! });
    });
    child.on('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
  });
}

describe('the owlrun command', () => {
  let sim: Simulator | undefined;
  afterEach(async () => {
    await sim?.close();
    sim = undefined;
  });

  it('--help lists every flag and the config keys', async () => {
    const r = await run(['--help']);
    assert.equal(r.code, 0);
    for (const flag of ['--config', '--port', '--host', '--demo', '--help']) assert.ok(r.stdout.includes(flag), flag);
    for (const key of ['server.maxHeaderBytes', 'payment.minSatsPerJob', 'devMint.enabled', 'backends[].apiKey']) assert.ok(r.stdout.includes(key), key);
  });

  it('stops at start-up with a message naming the wrong key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'owlrun-cli-'));
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'plugins: []\nserver: { port: "eighty" }\n');
    const r = await run(['--config', file]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /server\.port/);
  });

  it('on SIGTERM lets a running stream finish, then exits 0', async () => {
    sim = await startSimulator({ kind: 'vllm', models: ['m'], tokens: 25, tokenDelayMs: 20 });
    const dir = mkdtempSync(join(tmpdir(), 'owlrun-cli-'));
    const file = join(dir, 'gateway.yaml');
    writeFileSync(
      file,
      stringify({
        server: { host: '127.0.0.1', port: 0 },
        store: { url: `sqlite:${join(dir, 'owlrun.db')}` },
        plugins: [],
        backends: [{ id: 'a', kind: 'vllm', url: sim.url, models: ['m'] }],
      }),
    );
    const { child, url } = await startCli(file);
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const res = await fetch(url + '/v1/chat/completions', { method: 'POST', body: JSON.stringify({ model: 'm', stream: true, messages: [] }) });
    const reader = res.body!.getReader();
    let text = new TextDecoder().decode((await reader.read()).value);
    child.kill('SIGTERM');
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    assert.ok(text.endsWith('data: [DONE]\n\n'), 'the stream finished');
    assert.equal(sim.requests[0]!.tokensSent, 25);
    assert.equal(await exited, 0);
  });
});
