import type { Bill } from '../billing/billing.js';
import type { TokenFormat } from '../cashu/types.js';
import type { SqlExecutor } from '../store/db.js';
import type { MoneyServices } from './services.js';

export interface SettleMoneyInput {
  jobId: string;
  format: TokenFormat;
  mint: string;
  /** Sats held for the job (claimed, net of the input fee). */
  held: number;
  bill: Bill;
  outcome: string;
  nodeId: string | null;
  provider: string | null;
  promptTokens: number;
  completionTokens: number;
  tokenSource: string;
  ttlSeconds: number;
  now: number;
}

export interface SettledMoney {
  changeSats: number;
  /** The change token, in the format the client paid with ('' when no change). */
  token: string;
}

/**
 * Inside the one settle transaction: change proofs held → sent, the job recorded with its bill
 * and change, provider and gateway credited. Throws (rolling everything back) if the job was
 * already settled or the change cannot be paid exactly.
 */
export async function settleMoney(sql: SqlExecutor, money: MoneyServices, i: SettleMoneyInput): Promise<SettledMoney> {
  const cost = Math.min(i.bill.costSats, i.held);
  const changeSats = i.held - cost;
  const proofs = await money.wallet.takeProofs(sql, i.jobId, changeSats);
  const token = money.wallet.encodeFor(i.format, i.mint, proofs);
  const recorded = await money.jobs.settle(
    sql,
    i.jobId,
    {
      outcome: i.outcome,
      node_id: i.nodeId,
      provider: i.provider,
      prompt_tokens: i.promptTokens,
      completion_tokens: i.completionTokens,
      token_source: i.tokenSource,
      cost_sats: cost,
      provider_sats: cost === 0 ? 0 : i.bill.providerSats,
      gateway_sats: cost === 0 ? 0 : i.bill.gatewaySats,
      change_sats: changeSats,
      change_token: token,
      expires_at: i.now + i.ttlSeconds * 1000,
    },
    i.now,
  );
  if (!recorded) throw new Error(`job ${i.jobId} was already settled`);
  return { changeSats, token };
}
