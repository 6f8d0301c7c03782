import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { openWallet } from '../../src/client/index.js';
import { ScratchDir, costsOf } from '../helpers/client.js';
import { PaidEnv } from '../helpers/paid-env.js';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `owlrun ARGS` as its own process (stdin from `input`). */
function owlrun(args: string[], input = ''): Promise<Run> {
  return new Promise((resolve) => {
    const env: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: '' };
    delete env.OWLRUN_WALLET;
    delete env.OWLRUN_MINT;
    delete env.OWLRUN_GATEWAY;
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], { stdio: ['pipe', 'pipe', 'pipe'], env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

function ok(r: Run): Run {
  assert.equal(r.code, 0, `exit 0; stderr:\n${r.stderr}`);
  return r;
}

describe('owlrun wallet / owlrun ask (the CLI)', function () {
  this.timeout(300_000);
  let env: PaidEnv;
  const dir = new ScratchDir();

  before(async () => {
    env = await PaidEnv.start({ sim: { kind: 'vllm', tokens: 30 } });
  });
  after(async () => {
    await env.close();
    dir.remove();
  });

  it('topup → ask → send → receive round trip, every sat accounted for; restore from the words', async () => {
    const file = dir.file();
    const w = ['wallet', '--file', file];

    const top = ok(await owlrun([...w, '--mint', env.mintUrl, 'topup', '500']));
    const [invoice, done] = top.stdout.trim().split('\n');
    assert.match(invoice!, /^lnbc/, 'the invoice on stdout');
    assert.match(top.stderr, /[█▀▄]/, 'its QR code on stderr');
    assert.equal(done, 'received 500 sats; balance 500 sats');
    assert.equal(ok(await owlrun([...w, 'balance'])).stdout, '500 sats\n');

    const ask = ok(await owlrun(['ask', '--file', file, '--gateway', env.gw.url, '--max-tokens', '40', 'Say hello']));
    assert.ok(ask.stdout.trim().split(/\s+/).length >= 20, `the streamed answer: ${ask.stdout}`);
    assert.doesNotMatch(ask.stdout, /cashu/);
    const m = /cost (\d+) sats, paid (\d+), change (\d+); balance (\d+) sats/.exec(ask.stderr);
    assert.ok(m, ask.stderr);
    const [cost, paid, change, balance] = m.slice(1).map(Number) as [number, number, number, number];
    assert.equal(cost + change, paid);
    assert.equal(balance, 500 - cost);

    const send = ok(await owlrun([...w, 'send', '50']));
    const token = send.stdout.trim();
    assert.match(token, /^cashuB[A-Za-z0-9_-]+$/, 'just the token on stdout');
    assert.match(send.stderr, /[█▀▄]/);
    assert.match(send.stderr, new RegExp(`balance ${balance - 50} sats`));

    const other = dir.file();
    const rec = ok(await owlrun(['wallet', '--file', other, '--mint', env.mintUrl, 'receive'], token)); // the token on stdin
    assert.equal(rec.stdout, 'received 50 sats; balance 50 sats\n');
    const again = await owlrun([...w, 'receive', token]);
    assert.equal(again.code, 1, 'a spent token is refused');
    assert.match(again.stderr, /^owlrun: .*spent/m);

    const words = ok(await owlrun([...w, 'words'])).stdout.trim();
    assert.equal(words.split(' ').length, 12);
    const restored = ok(await owlrun(['wallet', '--file', dir.file(), '--mint', env.mintUrl, 'restore'], words));
    // the token sent to the other wallet was taken in by it: spent, not restored
    assert.match(restored.stdout, new RegExp(`^restored ${balance - 50} sats into `));
    await env.assertBooksBalance();
  });

  it('several processes (the CLI) and an in-process wallet pay from one file at once', async () => {
    const file = dir.file();
    const wallet = await openWallet({ file, mint: env.mintUrl });
    await wallet.topup(2000);
    const costs: number[] = [];
    wallet.onSettled((s) => costs.push(s.costSats!));
    const client = (i: number) =>
      wallet.fetch(`${env.gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: env.model, max_tokens: 40, messages: [{ role: 'user', content: `in-process ${i}` }] }) });
    const [asks, local] = await Promise.all([
      Promise.all([1, 2].map((i) => owlrun(['ask', '--file', file, '--gateway', env.gw.url, '--max-tokens', '40', `from process ${i}`]))),
      Promise.all([1, 2, 3].map(async (i) => (await client(i)).headers.get('x-cashu-receipt')!)),
    ]);
    const cliCosts = asks.map((r) => Number(/cost (\d+) sats/.exec(ok(r).stderr)?.[1]));
    assert.ok(cliCosts.every((c) => c > 2));
    const localCost = await costsOf(env, local);
    assert.equal(await wallet.balance(), 2000 - localCost - cliCosts.reduce((a, b) => a + b, 0));
    assert.equal(ok(await owlrun(['wallet', '--file', file, 'balance'])).stdout, `${await wallet.balance()} sats\n`);
    await env.assertBooksBalance();
  });
});
