// The SQL layer every repository is written against. One dialect-neutral surface so that the
// embedded SQLite store and PostgreSQL (for several replicas) run the same repository code.
// SQL uses `?` placeholders; types used in schemas: TEXT, BIGINT (integer sats/ms), no floats
// for money. BIGINT columns come back as JS numbers (safe: sats < 2^53).

export type SqlValue = string | number | null;
export type Row = Record<string, SqlValue>;

export interface SqlExecutor {
  /** Statement without result rows; returns how many rows it changed. */
  run(sql: string, params?: readonly SqlValue[]): Promise<number>;
  get<T extends Row = Row>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined>;
  all<T extends Row = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
}

export interface Db extends SqlExecutor {
  readonly dialect: 'sqlite' | 'postgres';
  /**
   * Runs fn inside one transaction. MUST be atomic and isolated: every statement of fn commits
   * together or not at all, and concurrent transactions behave as if run one after the other
   * (SQLite: one writer at a time; PostgreSQL: SERIALIZABLE with retry on conflict).
   * fn may be retried on PostgreSQL serialization failures, so it MUST NOT have side effects
   * outside the database.
   */
  tx<T>(fn: (sql: SqlExecutor) => Promise<T>): Promise<T>;
  /**
   * Runs fn in one transaction while no other process runs its own `exclusive` on this store:
   * schema migrations, one replica at a time. fn sees every earlier exclusive transaction's
   * commits. MUST NOT be retried (DDL): a failure rolls back and throws.
   */
  exclusive<T>(fn: (sql: SqlExecutor) => Promise<T>): Promise<T>;
  /** Executes DDL (several statements separated by `;`). Idempotent schemas: CREATE ... IF NOT EXISTS. */
  exec(ddl: string): Promise<void>;
  close(): Promise<void>;
}
