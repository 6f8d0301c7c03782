import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { Wallet } from '@cashu/cashu-ts';
import { mnemonicToSeed } from '@scure/bip39';
import { openWallet, type Settlement, type WalletState } from '../../src/client/index.js';
import { asProofs, stored } from '../../src/client/mint-ops.js';
import { chat, costsOf, openaiFor, ScratchDir } from '../helpers/client.js';
import { PaidEnv } from '../helpers/paid-env.js';
import { waitFor } from '../helpers/paid-stream.js';

/**
 * A TCP proxy in front of the gateway that cuts the client's connection (and its own to the
 * gateway) after `cutAfter` bytes of the response to a POST: a stream broken mid-way.
 */
async function cuttingProxy(target: string, cutAfter: number): Promise<{ url: string; cuts: number; close(): Promise<void> }> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<net.Socket>();
  const state = { cuts: 0 };
  const server = net.createServer((client) => {
    const up = net.connect(Number(port), hostname);
    for (const s of [client, up]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
    }
    let armed = false;
    let sent = 0;
    client.on('data', (d: Buffer) => {
      if (d.subarray(0, 5).toString() === 'POST ') [armed, sent] = [true, 0];
      up.write(d);
    });
    up.on('data', (d: Buffer) => {
      if (!armed) return void client.write(d);
      const room = cutAfter - sent;
      sent += d.length;
      if (room > d.length) return void client.write(d);
      client.end(d.subarray(0, Math.max(0, room)));
      state.cuts++;
      client.destroy();
      up.destroy();
    });
    client.on('close', () => up.destroy());
    up.on('close', () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    get cuts() {
      return state.cuts;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** The pid of a process that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '0']);
  return child.pid!;
}

const readState = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as WalletState;

describe('agent wallet recovery: broken streams, killed processes, interrupted swaps', function () {
  this.timeout(120_000);
  let env: PaidEnv;
  const dir = new ScratchDir();

  before(async () => {
    env = await PaidEnv.start({ sim: { kind: 'vllm', tokens: 30, tokenDelayMs: 60 } });
  });
  after(async () => {
    await env.close();
    dir.remove();
  });

  it('a stream cut mid-way: the SDK sees the error, the change comes in by receipt', async () => {
    const proxy = await cuttingProxy(env.gw.url, 900);
    try {
      const wallet = await openWallet({ file: dir.file(), mint: env.mintUrl });
      await wallet.topup(300);
      const settled: Settlement[] = [];
      wallet.onSettled((s) => settled.push(s));
      await assert.rejects(chat(openaiFor({ gw: { url: proxy.url } }, wallet), env.model, true, 'tell me a story'));
      assert.equal(proxy.cuts, 1);
      const balance = await wallet.balance();
      assert.equal(settled.length, 1);
      assert.equal(settled[0]!.status, 'settled');
      const cost = await costsOf(env, [settled[0]!.receipt]);
      assert.equal(settled[0]!.costSats, cost);
      assert.equal(balance, 300 - cost, 'the change is back though the stream never delivered it');
      assert.equal(await wallet.pendingSats(), 0);
      await env.assertBooksBalance();
    } finally {
      await proxy.close();
    }
  });

  for (const mode of ['streaming', 'unsent'] as const) {
    it(`a process killed after paying (${mode === 'streaming' ? 'mid-stream' : 'before the request left'}) is settled when the file is opened again`, async () => {
      const file = dir.file();
      const first = await openWallet({ file, mint: env.mintUrl });
      await first.topup(200);
      const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/client-child.ts', file, env.mintUrl, env.gw.url, env.model, mode], {
        stdio: ['ignore', 'pipe', 'inherit'],
        env: { ...process.env, NODE_OPTIONS: '' },
      });
      const exited = new Promise((r) => child.once('exit', r));
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => d.toString().includes('paid') && resolve());
        child.once('exit', () => reject(new Error('the child exited before paying')));
      });
      child.kill('SIGKILL');
      await exited;
      const [payment] = readState(file).payments;
      assert.ok(payment, 'the payment was recorded before the request left');
      assert.ok(payment.receipt.length >= 22);

      const reopened = await openWallet({ file, mint: env.mintUrl });
      // The gateway settles the job once it notices its client is gone.
      await waitFor(async () => (await reopened.recover(), (await reopened.pendingSats()) === 0), 'the payment to settle');
      const cost = mode === 'unsent' ? 0 : await costsOf(env, [payment.receipt]);
      assert.equal(await reopened.balance(), 200 - cost);
      if (mode === 'streaming') assert.ok(cost >= 2 && cost < 200);
      await env.assertBooksBalance();
    });
  }

  it('a swap interrupted by a crash: outputs restored from its counters when the mint did it, inputs back when it did not', async () => {
    const file = dir.file();
    const wallet = await openWallet({ file, mint: env.mintUrl });
    await wallet.topup(100); // 64 + 32 + 4
    const s = readState(file);
    const [big, mid, small] = [...s.proofs].sort((a, b) => b.amount - a.amount) as [WalletState['proofs'][number], WalletState['proofs'][number], WalletState['proofs'][number]];
    const keysetId = big.id;
    const start = s.counters[keysetId]!;
    // The dead process swapped `big` at the mint with outputs at its reserved counters...
    const cashu = new Wallet(env.mintUrl, { unit: 'sat', bip39seed: await mnemonicToSeed(s.mnemonic), counterInit: { [keysetId]: start }, keysetId });
    await cashu.loadMint();
    const outputs = await cashu.send(20, asProofs([big]), {}, { send: { type: 'deterministic', counter: 0 }, keep: { type: 'deterministic', counter: 0 } });
    const count = (await cashu.counters.peekNext(keysetId)) - start;
    assert.equal([...outputs.keep, ...outputs.send].map(stored).reduce((n, p) => n + p.amount, 0), 64);
    // ...and `mid` was taken into a swap that never reached the mint; neither result was written.
    const pid = deadPid();
    s.proofs = [small];
    s.counters[keysetId] = start + count + 10;
    s.ops = [
      { id: 'op-done', pid, createdAt: Date.now(), kind: 'swap', inputs: [big], ranges: [{ keysetId, start, count }] },
      { id: 'op-never', pid, createdAt: Date.now(), kind: 'swap', inputs: [mid], ranges: [{ keysetId, start: start + count, count: 10 }] },
    ];
    writeFileSync(file, JSON.stringify(s));

    const reopened = await openWallet({ file, mint: env.mintUrl });
    assert.equal(await reopened.balance(), 100);
    assert.deepEqual(readState(file).ops, []);
    const again = await openWallet({ file: dir.file(), mint: env.mintUrl, mnemonic: s.mnemonic });
    assert.equal(await again.balance(), 100, 'and restore agrees');
  });
});
