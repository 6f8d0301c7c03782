import type { Db, SqlExecutor } from './db.js';

// Versioned schema migrations. Each owner of tables (jobs ledger, wallet, oracle…) keeps an
// ordered list beside its code; the store records, per owner, which versions it has applied
// (schema_migrations). Rules that MUST hold:
// - a released migration is never edited or renumbered: add the next version instead;
// - versions of an owner are 1, 2, 3… in order; version 1 is the owner's first schema, written
//   with IF NOT EXISTS so that stores created before migrations existed adopt it unchanged;
// - everything pending is applied in ONE transaction (all or nothing), one process at a time
//   (Db.exclusive: PostgreSQL advisory lock), so replicas starting together migrate once;
// - a store that has a version this release does not know is refused (a newer release wrote it).

export type MigrationFn = (sql: SqlExecutor, dialect: Db['dialect']) => Promise<void>;

export interface Migration {
  version: number;
  name: string;
  /** SQL statements, each ending with `;` at the end of a line; or a function (data migrations). */
  up: string | MigrationFn;
}

export interface MigrationSet {
  /** Stable name of the owner (a table group); recorded in schema_migrations. */
  owner: string;
  migrations: readonly Migration[];
}

export interface MigrationRef {
  owner: string;
  version: number;
  name: string;
}

export class MigrationError extends Error {
  override name = 'MigrationError';
}

const VERSION_TABLE_DDL = `CREATE TABLE IF NOT EXISTS schema_migrations (
  owner TEXT NOT NULL,
  version BIGINT NOT NULL,
  name TEXT NOT NULL,
  applied_at BIGINT NOT NULL,
  PRIMARY KEY (owner, version)
)`;

/** The statements of a DDL text: split at `;` ending a line (schemas never put one elsewhere). */
export function statements(ddl: string): string[] {
  return ddl.split(/;\s*(?:\n|$)/).map((s) => s.trim()).filter((s) => s.length > 0);
}

function checkSets(sets: readonly MigrationSet[]): void {
  const owners = new Set<string>();
  for (const set of sets) {
    if (owners.has(set.owner)) throw new MigrationError(`two migration lists for owner "${set.owner}"`);
    owners.add(set.owner);
    set.migrations.forEach((m, i) => {
      if (m.version !== i + 1) throw new MigrationError(`migrations of "${set.owner}" must be numbered 1, 2, 3… in order (found ${m.version} at position ${i + 1})`);
    });
  }
}

async function versionTableExists(sql: SqlExecutor, dialect: Db['dialect']): Promise<boolean> {
  const row = dialect === 'sqlite'
    ? await sql.get(`SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`)
    : await sql.get(`SELECT to_regclass('schema_migrations') AS name`);
  return row !== undefined && row.name !== null;
}

async function appliedVersions(sql: SqlExecutor, dialect: Db['dialect']): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (!(await versionTableExists(sql, dialect))) return out;
  const rows = await sql.all<{ owner: string; version: number }>('SELECT owner, MAX(version) AS version FROM schema_migrations GROUP BY owner');
  for (const r of rows) out.set(r.owner, Number(r.version));
  return out;
}

function pendingOf(sets: readonly MigrationSet[], applied: Map<string, number>): MigrationRef[] {
  const out: MigrationRef[] = [];
  for (const set of sets) {
    const have = applied.get(set.owner) ?? 0;
    const known = set.migrations.length;
    if (have > known) {
      throw new MigrationError(`the store's "${set.owner}" tables are at schema version ${have}, this release knows ${known}: a newer release migrated this store; run that release (or restore a backup)`);
    }
    for (const m of set.migrations.slice(have)) out.push({ owner: set.owner, version: m.version, name: m.name });
  }
  return out;
}

/** What `migrate` would apply, in order. Changes nothing. */
export async function pendingMigrations(db: Db, sets: readonly MigrationSet[]): Promise<MigrationRef[]> {
  checkSets(sets);
  return pendingOf(sets, await appliedVersions(db, db.dialect));
}

/**
 * Applies every pending migration of `sets` in one transaction, one process at a time; returns
 * what it applied (nothing when the store is current). Throws MigrationError, or the store's
 * error naming the migration that failed; then nothing was applied.
 */
export async function migrate(db: Db, sets: readonly MigrationSet[], now: () => number = Date.now): Promise<MigrationRef[]> {
  checkSets(sets);
  // Cheap check first: a current store (every start after the first) takes no lock.
  if ((await pendingMigrations(db, sets)).length === 0) return [];
  return db.exclusive(async (sql) => {
    await sql.run(VERSION_TABLE_DDL);
    const pending = pendingOf(sets, await appliedVersions(sql, db.dialect));
    for (const ref of pending) {
      const m = sets.find((s) => s.owner === ref.owner)!.migrations[ref.version - 1]!;
      try {
        if (typeof m.up === 'string') for (const st of statements(m.up)) await sql.run(st);
        else await m.up(sql, db.dialect);
      } catch (err) {
        throw new MigrationError(`migration ${ref.owner} #${ref.version} (${ref.name}) failed: ${(err as Error).message}; nothing was changed`);
      }
      await sql.run('INSERT INTO schema_migrations (owner, version, name, applied_at) VALUES (?, ?, ?, ?)', [ref.owner, ref.version, ref.name, now()]);
    }
    return pending;
  });
}
