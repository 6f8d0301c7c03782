import { JOBS_SCHEMA } from '../../../src/ledger/jobs.js';
import type { Db } from '../../../src/store/db.js';
import { openDb } from '../../../src/store/open.js';
import { scratchDatabase, TEST_POSTGRES_URL } from '../../helpers/postgres.js';

/** The stores the ledger suites run on: SQLite always; PostgreSQL when the test server is there. */
export interface Store {
  name: string;
  /** A fresh store with the journal's tables (jobs, balances). */
  open(): Promise<{ db: Db; drop(): Promise<void> }>;
}

export const STORES: Store[] = [
  {
    name: 'sqlite',
    open: async () => {
      const db = await openDb('sqlite::memory:');
      await db.exec(JOBS_SCHEMA);
      return { db, drop: () => db.close() };
    },
  },
];

if (TEST_POSTGRES_URL) {
  STORES.push({
    name: 'postgres',
    open: async () => {
      const scratch = await scratchDatabase('owlrun_ledger');
      const db = await openDb(scratch.url);
      await db.exec(JOBS_SCHEMA);
      return {
        db,
        drop: async () => {
          await db.close();
          await scratch.drop();
        },
      };
    },
  });
}

/** Sets an account's balance directly (as if earned). */
export async function fund(db: Db, account: string, sats: number): Promise<void> {
  await db.run(
    `INSERT INTO balances (account, balance_sats, earned_sats, jobs) VALUES (?, ?, ?, 1)
     ON CONFLICT (account) DO UPDATE SET balance_sats = excluded.balance_sats, earned_sats = excluded.earned_sats`,
    [account, sats, sats],
  );
}
