import { earnings, DAY_MS } from '../../src/ledger/history.js';
import { providerAccount } from '../../src/ledger/jobs.js';
import type { Db } from '../../src/store/db.js';
import type { HeartbeatAck } from './protocol.js';

const MSAT_PER_SAT = 1000;

/**
 * The agent's whole view of its earnings, rebuilt from the ledger for every heartbeat: today's
 * jobs, tokens and sats, all-time earnings, and the balance it can withdraw now — money in
 * MILLIsatoshis (the agent's unit despite the field names). The agent withdraws by itself
 * once balance_sats reaches 10 000 (10 sats), so balance_sats is what a withdrawal can take:
 * the balance less withdrawals in flight.
 */
export async function heartbeatAck(db: Db | undefined, provider: string, queueDepthGlobal: number, btcUsd: number, now: number): Promise<HeartbeatAck> {
  const base: HeartbeatAck = {
    status: 'active', jobs_today: 0, tokens_today: 0, earned_today_usd: 0, earned_today_sats: 0, earned_total_sats: 0, balance_sats: 0,
    queue_depth_global: queueDepthGlobal, btc_live_usd: btcUsd,
  };
  if (!db) return base; // a gateway without the money plugins pays nobody
  const account = providerAccount(provider);
  const today = await earnings(db, { provider }, Math.floor(now / DAY_MS) * DAY_MS);
  const row = await db.get<{ balance_sats: number; earned_sats: number }>(`SELECT balance_sats, earned_sats FROM balances WHERE account = ?`, [account]);
  const held = await db.get<{ s: number | null }>(`SELECT CAST(SUM(hold_sats) AS BIGINT) AS s FROM withdrawals WHERE account = ? AND state IN ('swapping', 'melting')`, [account]);
  const available = Math.max(0, Number(row?.balance_sats ?? 0) - Number(held?.s ?? 0));
  return {
    ...base,
    jobs_today: today.totals.jobs,
    tokens_today: today.totals.prompt_tokens + today.totals.completion_tokens,
    earned_today_usd: round6((today.totals.sats / 1e8) * btcUsd),
    earned_today_sats: today.totals.sats * MSAT_PER_SAT,
    earned_total_sats: Number(row?.earned_sats ?? 0) * MSAT_PER_SAT,
    balance_sats: available * MSAT_PER_SAT,
  };
}

const round6 = (x: number): number => Math.round(x * 1e6) / 1e6;
