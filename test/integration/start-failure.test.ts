import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestGateway } from '../helpers/gateway.js';

const freePort = (): Promise<number> =>
  new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });

const refused = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const c = net.connect(port, '127.0.0.1');
    c.once('connect', () => (c.destroy(), resolve(false)));
    c.once('error', () => resolve(true));
  });

describe('Gateway.start', () => {
  it('regression (issue 11): a listen that fails closes the store and the dev mint it opened', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'owlrun-start-'));
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
    const port = (taken.address() as net.AddressInfo).port;
    const mintPort = await freePort();
    try {
      await assert.rejects(
        startTestGateway({
          server: { host: '127.0.0.1', port },
          store: { url: `sqlite:${join(dir, 'owlrun.db')}` },
          devMint: { enabled: true, port: mintPort },
          plugins: ['auth', 'payment', 'metering', 'change'],
          payment: { mints: [`http://127.0.0.1:${mintPort}`] },
        }),
        /EADDRINUSE/,
      );
      assert.equal(await refused(mintPort), true, 'the dev mint stopped listening');
      assert.equal(existsSync(join(dir, 'owlrun.db-wal')), false, 'the store was closed (SQLite removes its WAL on the last close)');
    } finally {
      taken.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
