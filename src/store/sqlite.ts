import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Db, Row, SqlExecutor, SqlValue } from './db.js';
import { Mutex } from './mutex.js';

/**
 * Embedded store on better-sqlite3 (synchronous, one connection). Every access is serialized
 * through one mutex so a transaction's statements never interleave with another caller's.
 */
export class SqliteDb implements Db {
  readonly dialect = 'sqlite' as const;
  private readonly db: Database.Database;
  private readonly lock = new Mutex();
  private readonly direct: SqlExecutor;

  constructor(file: string) {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    const db = this.db;
    const cache = new Map<string, Database.Statement>();
    const prep = (sql: string): Database.Statement => {
      let st = cache.get(sql);
      if (!st) {
        st = db.prepare(sql);
        cache.set(sql, st);
      }
      return st;
    };
    this.direct = {
      async run(sql, params = []) {
        return prep(sql).run(...(params as SqlValue[])).changes;
      },
      async get<T extends Row>(sql: string, params: readonly SqlValue[] = []) {
        return prep(sql).get(...(params as SqlValue[])) as T | undefined;
      },
      async all<T extends Row>(sql: string, params: readonly SqlValue[] = []) {
        return prep(sql).all(...(params as SqlValue[])) as T[];
      },
    };
  }

  run(sql: string, params?: readonly SqlValue[]): Promise<number> {
    return this.lock.with(() => this.direct.run(sql, params));
  }
  get<T extends Row = Row>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined> {
    return this.lock.with(() => this.direct.get<T>(sql, params));
  }
  all<T extends Row = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]> {
    return this.lock.with(() => this.direct.all<T>(sql, params));
  }

  tx<T>(fn: (sql: SqlExecutor) => Promise<T>): Promise<T> {
    return this.lock.with(async () => {
      this.db.exec('BEGIN IMMEDIATE');
      try {
        const out = await fn(this.direct);
        this.db.exec('COMMIT');
        return out;
      } catch (err) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        throw err;
      }
    });
  }

  /** BEGIN IMMEDIATE takes SQLite's one writer lock: other processes wait (busy_timeout). */
  exclusive<T>(fn: (sql: SqlExecutor) => Promise<T>): Promise<T> {
    return this.tx(fn);
  }

  async exec(ddl: string): Promise<void> {
    await this.lock.with(async () => this.db.exec(ddl));
  }

  async close(): Promise<void> {
    await this.lock.with(async () => this.db.close());
  }
}
