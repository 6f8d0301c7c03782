import type { Logger } from 'pino';
import { Billing } from '../billing/billing.js';
import type { TokenFormat } from '../cashu/types.js';
import type { JobRow } from '../ledger/jobs.js';
import type { Db } from '../store/db.js';
import type { MoneyServices } from './services.js';
import { settleMoney } from './settle.js';

/**
 * Settles jobs a previous process (or an unanswered claim) left open. MUST run after the
 * wallet restored its in-doubt swaps. A job whose claim never happened is closed with nothing
 * owed (the client's token is unspent); a claimed one is billed for the tokens its journal
 * proves were delivered, or refunded in full, and its receipt then returns the change.
 */
export async function settleOrphans(rows: readonly JobRow[], money: MoneyServices, db: Db, ttlSeconds: number, log: Logger): Promise<number> {
  let settled = 0;
  for (const row of rows) {
    const held = await money.wallet.heldByJob(row.id);
    const now = Date.now();
    if (row.state === 'claiming') {
      // Outputs still pending: the mint could not be asked whether it signed them (it may have
      // spent the client's token). Leave the job open for the next run; never settle it on a guess.
      if ((await money.wallet.holdings.countOutputs('pending', row.id)) > 0) continue;
      if (held === 0) {
        await money.jobs.markNotClaimed(row.id, 'refused', now);
        continue;
      }
    }
    const quote = Billing.quoteFromRow(row);
    const delivered = row.delivered_tokens;
    const bill = delivered > 0 ? money.billing.bill(quote, row.prompt_estimate, delivered, held) : { costSats: 0, gatewaySats: 0, providerSats: 0 };
    await db.tx((sql) =>
      settleMoney(sql, money, {
        jobId: row.id,
        format: row.format as TokenFormat,
        mint: row.mint,
        held,
        bill,
        outcome: 'recovered',
        nodeId: row.node_id,
        provider: row.provider,
        promptTokens: delivered > 0 ? row.prompt_estimate : 0,
        completionTokens: delivered,
        tokenSource: 'estimated',
        ttlSeconds,
        now,
      }),
    );
    settled++;
    log.warn({ job: row.id, held, billed: bill.costSats }, 'settled a job left open by a stopped process');
  }
  return settled;
}
