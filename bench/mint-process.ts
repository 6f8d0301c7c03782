// The development mint alone in its own process (src/devmint, its own in-memory SQLite store),
// so its signing (pure JS, ~15 ms per output) never runs on the gateway's CPU.
//
//   node --import tsx bench/mint-process.ts '{}'
//
// Prints the mint URL on stdout. Over IPC, `query` 'swaps' answers what the mint saw: every
// POST /v1/swap with its duration measured inside the mint (request headers parsed → response
// finished: body read, input checks, signing, the store transaction, the answer written), and
// the mint's own per-endpoint request counters.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { createDevMint } from '../src/devmint/index.js';
import { SqliteDb } from '../src/store/sqlite.js';
import { runChild } from './lib/child-main.js';

/** What `query('swaps')` answers. */
export interface MintSwaps {
  /** Duration (ms) of each answered POST /v1/swap, in arrival order. */
  swapMs: number[];
  /** HTTP status of each, in the same order. */
  swapStatus: number[];
  /** The mint's request counters ("POST /v1/swap" → n, …). */
  counters: Record<string, number>;
}

runChild('mint', async () => {
  const opts = JSON.parse(process.argv[2] ?? '{}') as { inputFeePpk?: number };
  const mint = await createDevMint({ db: new SqliteDb(':memory:'), inputFeePpk: opts.inputFeePpk ?? 0, log: () => undefined });
  const swapMs: number[] = [];
  const swapStatus: number[] = [];
  const server = http.createServer((req, res) => {
    if (req.method === 'POST' && req.url === '/v1/swap') {
      const t0 = performance.now();
      res.once('finish', () => {
        swapMs.push(performance.now() - t0);
        swapStatus.push(res.statusCode);
      });
    }
    mint.handle(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    info: { keysetId: mint.keysetId },
    query: (what): MintSwaps => {
      if (what !== 'swaps') throw new Error(`unknown query "${what}"`);
      return { swapMs: [...swapMs], swapStatus: [...swapStatus], counters: Object.fromEntries(mint.counters) };
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await mint.close();
    },
  };
});
