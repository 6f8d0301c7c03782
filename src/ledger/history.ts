import type { SqlExecutor } from '../store/db.js';

// Who earned what: the settled jobs of the journal (jobs.ts), grouped by model and UTC day. A job
// counts when it was charged (cost_sats > 0). A provider earns provider_sats of the jobs its nodes
// served; the gateway earns gateway_sats of those, and the whole cost of jobs served by backends
// without a provider — exactly what JobsRepo.settle credited.

export const DAY_MS = 86_400_000;

export interface EarningsRow {
  /** UTC day, YYYY-MM-DD */
  day: string;
  model: string;
  jobs: number;
  prompt_tokens: number;
  completion_tokens: number;
  /** what the account earned from these jobs */
  sats: number;
  /** what the clients paid for them */
  cost_sats: number;
}

export interface Earnings {
  rows: EarningsRow[];
  totals: { jobs: number; prompt_tokens: number; completion_tokens: number; sats: number; cost_sats: number };
}

/** 'gateway' or a provider id. */
export type Earner = { gateway: true } | { provider: string };

const isoDay = (d: number): string => new Date(d * DAY_MS).toISOString().slice(0, 10);

/** Earnings of one account from jobs settled at or after `sinceMs`, by day then model. */
export async function earnings(sql: SqlExecutor, who: Earner, sinceMs = 0): Promise<Earnings> {
  const [sats, where, params] =
    'provider' in who
      ? ['provider_sats', 'provider = ?', [who.provider]]
      : ['CASE WHEN provider IS NULL THEN cost_sats ELSE gateway_sats END', '1 = 1', []];
  const rows = await sql.all<{ d: number; model: string; n: number; pt: number; ct: number; s: number; c: number }>(
    `SELECT CAST(settled_at / ${DAY_MS} AS BIGINT) AS d, model, COUNT(*) AS n,
            CAST(SUM(COALESCE(prompt_tokens, 0)) AS BIGINT) AS pt, CAST(SUM(COALESCE(completion_tokens, 0)) AS BIGINT) AS ct,
            CAST(SUM(${sats}) AS BIGINT) AS s, CAST(SUM(cost_sats) AS BIGINT) AS c
     FROM jobs WHERE state = 'settled' AND cost_sats > 0 AND settled_at >= ? AND ${where}
     GROUP BY CAST(settled_at / ${DAY_MS} AS BIGINT), model ORDER BY d, model`,
    [sinceMs, ...params],
  );
  const out: EarningsRow[] = rows.map((r) => ({
    day: isoDay(Number(r.d)), model: r.model, jobs: Number(r.n), prompt_tokens: Number(r.pt), completion_tokens: Number(r.ct), sats: Number(r.s), cost_sats: Number(r.c),
  }));
  const totals = { jobs: 0, prompt_tokens: 0, completion_tokens: 0, sats: 0, cost_sats: 0 };
  for (const r of out) {
    totals.jobs += r.jobs;
    totals.prompt_tokens += r.prompt_tokens;
    totals.completion_tokens += r.completion_tokens;
    totals.sats += r.sats;
    totals.cost_sats += r.cost_sats;
  }
  return { rows: out, totals };
}
