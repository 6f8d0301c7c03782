import { createHash } from 'node:crypto';
import type { Db, SqlExecutor } from '../store/db.js';
import { migrate, type MigrationSet } from '../store/migrate.js';

// The journal of paid jobs. A row is written BEFORE the claim (state 'claiming'), moves to
// 'claimed' once the proofs are held, and to 'settled' in the one settle transaction that also
// marks the change proofs sent and credits the provider and the gateway. A process that dies
// leaves rows in 'claiming'/'claimed'; start-up recovery settles them.

export const JOBS_SCHEMA = `
CREATE TABLE IF NOT EXISTS jobs (
  id TEXT PRIMARY KEY,
  receipt_hash TEXT NOT NULL UNIQUE,
  state TEXT NOT NULL,
  outcome TEXT,
  model TEXT NOT NULL,
  route TEXT NOT NULL,
  node_id TEXT,
  provider TEXT,
  mint TEXT NOT NULL,
  format TEXT NOT NULL,
  token_sats BIGINT NOT NULL,
  fee_sats BIGINT NOT NULL DEFAULT 0,
  held_sats BIGINT NOT NULL DEFAULT 0,
  price_in_pico BIGINT NOT NULL,
  price_out_pico BIGINT NOT NULL,
  rate_cents BIGINT NOT NULL,
  min_sats BIGINT NOT NULL,
  prompt_estimate BIGINT NOT NULL,
  delivered_tokens BIGINT NOT NULL DEFAULT 0,
  prompt_tokens BIGINT,
  completion_tokens BIGINT,
  token_source TEXT,
  cost_sats BIGINT,
  provider_sats BIGINT,
  gateway_sats BIGINT,
  change_sats BIGINT,
  change_token TEXT,
  owner TEXT NOT NULL DEFAULT '',
  created_at BIGINT NOT NULL,
  settled_at BIGINT,
  expires_at BIGINT
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state);
CREATE TABLE IF NOT EXISTS gateway_instances (
  id TEXT PRIMARY KEY,
  heartbeat_at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS balances (
  account TEXT PRIMARY KEY,
  balance_sats BIGINT NOT NULL DEFAULT 0,
  earned_sats BIGINT NOT NULL DEFAULT 0,
  jobs BIGINT NOT NULL DEFAULT 0
);
`;

/** Schema versions of jobs, gateway_instances, balances (src/store/migrate.ts: never edit a released one, append). */
export const JOBS_MIGRATIONS: MigrationSet = {
  owner: 'jobs',
  migrations: [{ version: 1, name: 'first schema', up: JOBS_SCHEMA }],
};

export type JobState = 'claiming' | 'claimed' | 'settled';

export interface JobRow {
  [k: string]: string | number | null;
  id: string;
  receipt_hash: string;
  state: JobState;
  outcome: string | null;
  model: string;
  route: string;
  node_id: string | null;
  provider: string | null;
  mint: string;
  format: string;
  token_sats: number;
  fee_sats: number;
  held_sats: number;
  price_in_pico: number;
  price_out_pico: number;
  rate_cents: number;
  min_sats: number;
  prompt_estimate: number;
  delivered_tokens: number;
  prompt_tokens: number | null;
  completion_tokens: number | null;
  token_source: string | null;
  cost_sats: number | null;
  provider_sats: number | null;
  gateway_sats: number | null;
  change_sats: number | null;
  change_token: string | null;
  owner: string;
  created_at: number;
  settled_at: number | null;
  expires_at: number | null;
}

export type NewJob = Pick<JobRow, 'id' | 'model' | 'route' | 'mint' | 'format' | 'token_sats' | 'fee_sats' | 'price_in_pico' | 'price_out_pico' | 'rate_cents' | 'min_sats' | 'prompt_estimate'>;

export interface SettledFigures {
  outcome: string;
  node_id: string | null;
  provider: string | null;
  prompt_tokens: number;
  completion_tokens: number;
  token_source: string;
  cost_sats: number;
  provider_sats: number;
  gateway_sats: number;
  change_sats: number;
  change_token: string;
  expires_at: number;
}

/** What opening a job's journal row found: a new row, or the job this token already paid for. */
export type Opened = { created: true } | { created: false; existing: JobRow };

/** A running job's journal entry: tokens delivered so far and who serves it. */
export interface Progress {
  tokens: number;
  nodeId: string | null;
  provider: string | null;
}

/** Receipts are bearer secrets: only their hash is stored. */
export const receiptHash = (receipt: string): string => createHash('sha256').update(receipt).digest('hex');

/** SQL selecting the ids of jobs not settled yet: their proofs are never spent by a withdrawal. */
export const UNSETTLED_JOB_IDS = `SELECT id FROM jobs WHERE state <> 'settled'`;

export const GATEWAY_ACCOUNT = 'gateway';
export const providerAccount = (id: string): string => `provider:${id}`;

/** A gateway process that stopped heartbeating this long ago is dead: its open jobs are settled by others. */
export const OWNER_DEAD_MS = 30_000;

export class JobsRepo {
  /**
   * @param owner this process's id: the jobs it opens are its own until it stops heartbeating
   *   (replicas sharing one PostgreSQL store never settle each other's running jobs).
   */
  constructor(
    private readonly db: Db,
    readonly owner: string,
  ) {}

  async heartbeat(now: number): Promise<void> {
    await this.db.run(
      `INSERT INTO gateway_instances (id, heartbeat_at) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at`,
      [this.owner, now],
    );
  }

  /**
   * Open jobs no live process owns: opened by a process that stopped heartbeating (or, on the
   * embedded SQLite store, which one process uses at a time, by any earlier process), plus this
   * process's own open jobs that are older than minAgeMs and not in `running` (a failed settlement
   * or an unanswered claim).
   */
  async orphans(now: number, running: ReadonlySet<string>, minAgeMs: number): Promise<JobRow[]> {
    const live = new Set(
      this.db.dialect === 'sqlite'
        ? [this.owner]
        : (await this.db.all<{ id: string }>(`SELECT id FROM gateway_instances WHERE heartbeat_at >= ?`, [now - OWNER_DEAD_MS])).map((r) => r.id),
    );
    live.add(this.owner);
    return (await this.unsettled()).filter((r) =>
      r.owner === this.owner ? !running.has(r.id) && r.created_at < now - minAgeMs : !live.has(r.owner),
    );
  }

  async init(): Promise<void> {
    await migrate(this.db, [JOBS_MIGRATIONS]);
  }

  /**
   * Opens the journal row of a job about to claim. The receipt is derived from the token, so a
   * token that already paid for a job finds that job's row: it is returned and nothing is
   * written (the caller answers with that job's receipt). A row of an earlier attempt whose
   * claim never happened is replaced (the token was not spent then).
   */
  async create(job: NewJob, receipt: string, now: number): Promise<Opened> {
    return this.db.tx((sql) => this.open(sql, job, receipt, now));
  }

  /** create() inside the caller's transaction (src/money/claim.ts: with the claim's pending outputs). */
  async open(sql: SqlExecutor, job: NewJob, receipt: string, now: number): Promise<Opened> {
    const hash = receiptHash(receipt);
    const existing = await sql.get<JobRow>(`SELECT * FROM jobs WHERE receipt_hash = ?`, [hash]);
    if (existing) {
      if (!(existing.state === 'settled' && existing.outcome === 'refused' && Number(existing.held_sats) === 0)) return { created: false, existing };
      await sql.run(`DELETE FROM jobs WHERE id = ?`, [existing.id]);
    }
    await sql.run(
      `INSERT INTO jobs (id, receipt_hash, state, model, route, mint, format, token_sats, fee_sats, price_in_pico, price_out_pico, rate_cents, min_sats, prompt_estimate, owner, created_at)
       VALUES (?, ?, 'claiming', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [job.id, hash, job.model, job.route, job.mint, job.format, job.token_sats, job.fee_sats, job.price_in_pico, job.price_out_pico, job.rate_cents, job.min_sats, job.prompt_estimate, this.owner, now],
    );
    return { created: true };
  }

  /** The claim's proofs are held: 'claiming' → 'claimed' (in the transaction that stores them, or alone). */
  async markClaimed(id: string, held: number, fee: number, sql: SqlExecutor = this.db): Promise<void> {
    await sql.run(`UPDATE jobs SET state = 'claimed', held_sats = ?, fee_sats = ? WHERE id = ? AND state = 'claiming'`, [held, fee, id]);
  }

  /** A claim that did not happen (the token was refused or the mint unreachable): nothing is owed. */
  async markNotClaimed(id: string, outcome: string, now: number): Promise<void> {
    await this.db.run(
      `UPDATE jobs SET state = 'settled', outcome = ?, held_sats = 0, cost_sats = 0, provider_sats = 0, gateway_sats = 0, change_sats = 0, change_token = '', settled_at = ?, expires_at = ? WHERE id = ? AND state = 'claiming'`,
      [outcome, now, now, id],
    );
  }

  /** The progress journal: tokens delivered so far, for jobs still running (batched by the caller). */
  async recordProgress(progress: ReadonlyMap<string, Progress>): Promise<void> {
    if (progress.size === 0) return;
    await this.db.tx(async (sql) => {
      for (const [id, p] of progress) {
        await sql.run(`UPDATE jobs SET delivered_tokens = ?, node_id = ?, provider = ? WHERE id = ? AND state = 'claimed' AND delivered_tokens < ?`, [p.tokens, p.nodeId, p.provider, id, p.tokens]);
      }
    });
  }

  async get(sql: SqlExecutor, id: string): Promise<JobRow | undefined> {
    return sql.get<JobRow>(`SELECT * FROM jobs WHERE id = ?`, [id]);
  }

  async byReceipt(receipt: string): Promise<JobRow | undefined> {
    return this.db.get<JobRow>(`SELECT * FROM jobs WHERE receipt_hash = ?`, [receiptHash(receipt)]);
  }

  async unsettled(): Promise<JobRow[]> {
    return this.db.all<JobRow>(`SELECT * FROM jobs WHERE state <> 'settled' ORDER BY created_at`);
  }

  /** Inside the settle transaction: records the bill and credits both shares. Returns false if already settled. */
  async settle(sql: SqlExecutor, id: string, f: SettledFigures, now: number): Promise<boolean> {
    const changed = await sql.run(
      `UPDATE jobs SET state = 'settled', outcome = ?, node_id = ?, provider = ?, prompt_tokens = ?, completion_tokens = ?, token_source = ?,
         cost_sats = ?, provider_sats = ?, gateway_sats = ?, change_sats = ?, change_token = ?, settled_at = ?, expires_at = ?
       WHERE id = ? AND state <> 'settled'`,
      [f.outcome, f.node_id, f.provider, f.prompt_tokens, f.completion_tokens, f.token_source, f.cost_sats, f.provider_sats, f.gateway_sats, f.change_sats, f.change_token, now, f.expires_at, id],
    );
    if (changed === 0) return false;
    if (f.cost_sats > 0) {
      await credit(sql, f.provider ? providerAccount(f.provider) : GATEWAY_ACCOUNT, f.provider ? f.provider_sats : f.provider_sats + f.gateway_sats);
      if (f.provider) await credit(sql, GATEWAY_ACCOUNT, f.gateway_sats);
    }
    return true;
  }

  /** Forgets change tokens past their time (the sats stay sent: the client had the receipt's whole TTL). */
  async expireChange(now: number): Promise<number> {
    return this.db.run(`UPDATE jobs SET change_token = NULL WHERE state = 'settled' AND change_token IS NOT NULL AND expires_at < ?`, [now]);
  }

  async balance(account: string): Promise<{ balance_sats: number; earned_sats: number; jobs: number }> {
    const row = await this.db.get<{ balance_sats: number; earned_sats: number; jobs: number }>(`SELECT balance_sats, earned_sats, jobs FROM balances WHERE account = ?`, [account]);
    return row ?? { balance_sats: 0, earned_sats: 0, jobs: 0 };
  }

  async balances(): Promise<{ account: string; balance_sats: number }[]> {
    return this.db.all<{ account: string; balance_sats: number }>(`SELECT account, balance_sats FROM balances ORDER BY account`);
  }

  /** Every account's balance, earnings and job count. */
  allBalances(sql: SqlExecutor = this.db): Promise<{ account: string; balance_sats: number; earned_sats: number; jobs: number }[]> {
    return sql.all(`SELECT account, balance_sats, earned_sats, jobs FROM balances ORDER BY account`);
  }

  /** The journal's part of the books: sats held for claimed jobs, jobs charged, jobs not settled. */
  async books(sql: SqlExecutor = this.db): Promise<{ pending: number; charged: number; running: number }> {
    const row = await sql.get(
      `SELECT CAST((SELECT COALESCE(SUM(held_sats), 0) FROM jobs WHERE state = 'claimed') AS BIGINT) AS pending,
              (SELECT COUNT(*) FROM jobs WHERE state = 'settled' AND cost_sats > 0) AS charged,
              (SELECT COUNT(*) FROM jobs WHERE state <> 'settled') AS running`,
    );
    return { pending: Number(row?.pending ?? 0), charged: Number(row?.charged ?? 0), running: Number(row?.running ?? 0) };
  }

  /** Sats held for jobs not settled yet (claimed, running or awaiting recovery). */
  async pendingSats(): Promise<number> {
    const row = await this.db.get<{ s: number | null }>(`SELECT SUM(held_sats) AS s FROM jobs WHERE state = 'claimed'`);
    return Number(row?.s ?? 0);
  }
}

async function credit(sql: SqlExecutor, account: string, sats: number): Promise<void> {
  if (sats <= 0) return;
  await sql.run(
    `INSERT INTO balances (account, balance_sats, earned_sats, jobs) VALUES (?, ?, ?, 1)
     ON CONFLICT (account) DO UPDATE SET balance_sats = balances.balance_sats + excluded.balance_sats, earned_sats = balances.earned_sats + excluded.earned_sats, jobs = balances.jobs + 1`,
    [account, sats, sats],
  );
}
