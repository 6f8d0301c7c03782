// NUT-09 restore of swap outputs whose answer was lost (crash, timeout, reset).
// MUST hold: an output becomes 'done' and its proof 'held' in one transaction, only if it was
// still 'pending' (a concurrent claim or another replica may have stored it already); it becomes
// 'failed' only when the mint answered the restore without a signature for it. Restore is off
// the request path: its signatures are verified (DLEQ) and unblinded right here.

import { GatewayError } from '../errors.js';
import type { Db } from '../store/db.js';
import type { Holdings, OutputRow } from './holdings.js';
import type { MintKeysets } from './keysets.js';
import type { MintClient } from './mint-client.js';
import { InvalidSignatureError, unblindSignature } from './bdhke.js';
import { blindedMessageOfRow, wellFormedSignature, type BlindSignatureJson, type BlindedMessageJson } from './outputs.js';
import type { WalletLogger, WalletProof } from './types.js';

/** Outputs per restore request. */
export const RESTORE_BATCH = 100;

export interface RecoveryDeps {
  db: Db;
  holdings: Holdings;
  log: WalletLogger;
  mintFor(url: string): { client: MintClient; keysets: MintKeysets };
  /** Sats of signatures that failed verification (the mint's fault; they are lost). */
  onInvalid?(jobId: string, sats: number): void;
}

interface RestoreResponse {
  outputs?: unknown;
  signatures?: unknown;
  promises?: unknown; // pre-2024 name of `signatures`
}

/** Restores `rows` (pending outputs); returns sats recovered per job. */
export async function recoverPendingOutputs(rows: readonly OutputRow[], deps: RecoveryDeps): Promise<Map<string, number>> {
  const byMint = new Map<string, OutputRow[]>();
  for (const r of rows) byMint.set(r.mint, [...(byMint.get(r.mint) ?? []), r]);
  const recovered = new Map<string, number>();

  for (const [mintUrl, list] of byMint) {
    const mint = deps.mintFor(mintUrl);
    for (let i = 0; i < list.length; i += RESTORE_BATCH) {
      const chunk = list.slice(i, i + RESTORE_BATCH);
      let res: RestoreResponse;
      try {
        res = await mint.client.post<RestoreResponse>('restore', '/v1/restore', { outputs: chunk.map(blindedMessageOfRow) });
      } catch (err) {
        deps.log.warn?.({ mint: mintUrl, pending: list.length - i, err: err instanceof Error ? err.message : String(err) },
          'wallet: restore failed, outputs stay pending');
        break; // next mint; this one is retried on the next run
      }
      const signed = signaturesByB(res);
      if (!signed) {
        deps.log.warn?.({ mint: mintUrl }, 'wallet: malformed restore answer, outputs stay pending');
        break;
      }

      const results: Array<{ row: OutputRow; proof: WalletProof | null; verdict: 'done' | 'failed' | 'invalid' }> = [];
      for (const row of chunk) {
        const sig = signed.get(row.b_);
        if (!sig) {
          results.push({ row, proof: null, verdict: 'failed' });
          continue;
        }
        let keys: Record<string, string>;
        try {
          keys = (await mint.keysets.keysFor(row.keyset_id)).keys;
        } catch (err) {
          if (err instanceof GatewayError) continue; // keys not loadable now: retry later
          throw err;
        }
        const K = keys[String(row.amount)];
        const wellFormed = wellFormedSignature(sig, blindedMessageOfRow(row));
        try {
          if (!K || !wellFormed) throw new InvalidSignatureError('the mint returned a signature that does not match the output');
          const proof = unblindSignature({
            keysetId: row.keyset_id, amount: Number(row.amount), secret: row.secret, r: row.r, B_: row.b_, C_: wellFormed.C_, dleq: wellFormed.dleq ?? null, K,
          });
          results.push({ row, proof, verdict: 'done' });
        } catch (err) {
          if (err instanceof InvalidSignatureError) {
            results.push({ row, proof: null, verdict: 'invalid' });
          } else {
            deps.log.error?.({ jobId: row.job_id, err: err instanceof Error ? err.message : String(err) }, 'wallet: could not unblind a restored output, left pending');
          }
        }
        await new Promise((resolve) => setImmediate(resolve)); // ~5 ms of CPU per output: let requests through
      }

      const moved = await deps.db.tx(async (sql) => {
        const out: Array<{ jobId: string; amount: number }> = [];
        const bad: Array<{ jobId: string; amount: number }> = [];
        for (const { row, proof, verdict } of results) {
          if (!(await deps.holdings.moveOutput(sql, row.b_, ['pending'], verdict))) continue;
          if (verdict === 'done' && proof) {
            await deps.holdings.insertProof(sql, row.job_id, row.mint, proof);
            out.push({ jobId: row.job_id, amount: proof.amount });
          } else if (verdict === 'invalid') {
            bad.push({ jobId: row.job_id, amount: Number(row.amount) });
          }
        }
        return { out, bad };
      }).then(({ out, bad }) => {
        for (const b of bad) {
          deps.log.error?.({ jobId: b.jobId, mint: mintUrl, amount: b.amount }, 'wallet: THE MINT RESTORED AN INVALID SIGNATURE — output marked invalid, its sats are missing');
          deps.onInvalid?.(b.jobId, b.amount);
        }
        return out;
      });
      for (const m of moved) recovered.set(m.jobId, (recovered.get(m.jobId) ?? 0) + m.amount);
      const failed = results.filter((r) => r.verdict === 'failed').length;
      const invalid = results.filter((r) => r.verdict === 'invalid').length;
      deps.log.info?.({ mint: mintUrl, restored: moved.length, failed, invalid }, 'wallet: restore batch settled');
    }
  }
  return recovered;
}

/** B_ → signature, from a NUT-09 answer (outputs[i] is signed by signatures[i]); null if malformed. */
function signaturesByB(res: RestoreResponse): Map<string, BlindSignatureJson> | null {
  const outs = res.outputs;
  const sigs = res.signatures ?? res.promises;
  if (!Array.isArray(outs) || !Array.isArray(sigs) || outs.length !== sigs.length) return null;
  const map = new Map<string, BlindSignatureJson>();
  outs.forEach((o: BlindedMessageJson, i) => {
    if (o && typeof o.B_ === 'string') map.set(o.B_, sigs[i] as BlindSignatureJson);
  });
  return map;
}
