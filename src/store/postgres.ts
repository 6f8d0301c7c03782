import pg from 'pg';
import type { Db, Row, SqlExecutor, SqlValue } from './db.js';

// BIGINT (int8) columns hold sats and epoch milliseconds: always below 2^53, so numbers are exact.
pg.types.setTypeParser(20, (v: string) => Number(v));

const RETRYABLE = new Set(['40001', '40P01']); // serialization_failure, deadlock_detected
const MAX_ATTEMPTS = 8;
/** The advisory lock key that serializes schema changes across replicas. */
const SCHEMA_LOCK = 7210031;

/** `?` placeholders → `$1…$n`. The repositories never put a literal `?` inside SQL strings. */
function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

function executor(q: (text: string, params: SqlValue[]) => Promise<pg.QueryResult>): SqlExecutor {
  return {
    async run(sql, params = []) {
      return (await q(numbered(sql), [...params])).rowCount ?? 0;
    },
    async get<T extends Row>(sql: string, params: readonly SqlValue[] = []) {
      return (await q(numbered(sql), [...params])).rows[0] as T | undefined;
    },
    async all<T extends Row>(sql: string, params: readonly SqlValue[] = []) {
      return (await q(numbered(sql), [...params])).rows as T[];
    },
  };
}

/** PostgreSQL store for several gateway replicas sharing one database. */
export class PostgresDb implements Db {
  readonly dialect = 'postgres' as const;
  private readonly direct: SqlExecutor;

  private constructor(private readonly pool: pg.Pool) {
    this.direct = executor((text, params) => pool.query(text, params));
  }

  static async connect(url: string): Promise<PostgresDb> {
    const pool = new pg.Pool({ connectionString: url, max: 10 });
    pool.on('error', () => undefined); // idle-client errors surface on the next query instead
    await pool.query('SELECT 1');
    return new PostgresDb(pool);
  }

  run(sql: string, params?: readonly SqlValue[]) { return this.direct.run(sql, params); }
  get<T extends Row = Row>(sql: string, params?: readonly SqlValue[]) { return this.direct.get<T>(sql, params); }
  all<T extends Row = Row>(sql: string, params?: readonly SqlValue[]) { return this.direct.all<T>(sql, params); }

  async tx<T>(fn: (sql: SqlExecutor) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.pool.connect();
      try {
        await client.query('BEGIN ISOLATION LEVEL SERIALIZABLE');
        const out = await fn(executor((text, params) => client.query(text, params)));
        await client.query('COMMIT');
        return out;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        const code = (err as { code?: string }).code;
        if (!code || !RETRYABLE.has(code) || attempt >= MAX_ATTEMPTS) throw err;
        await new Promise((r) => setTimeout(r, Math.random() * 10 * attempt));
      } finally {
        client.release();
      }
    }
  }

  async exclusive<T>(fn: (sql: SqlExecutor) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      // READ COMMITTED: each statement sees what the replica before us committed while we waited.
      await client.query('BEGIN ISOLATION LEVEL READ COMMITTED');
      await client.query(`SELECT pg_advisory_xact_lock(${SCHEMA_LOCK})`);
      const out = await fn(executor((text, params) => client.query(text, params)));
      await client.query('COMMIT');
      return out;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  async exec(ddl: string): Promise<void> {
    // Concurrent replicas may race on CREATE TABLE IF NOT EXISTS; one advisory lock serializes it.
    const client = await this.pool.connect();
    try {
      await client.query(`SELECT pg_advisory_lock(${SCHEMA_LOCK})`);
      await client.query(ddl);
    } finally {
      await client.query(`SELECT pg_advisory_unlock(${SCHEMA_LOCK})`).catch(() => undefined);
      client.release();
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
