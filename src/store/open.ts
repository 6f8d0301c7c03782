import type { Db } from './db.js';
import { SqliteDb } from './sqlite.js';

/** Opens the store named by `store.url`: `sqlite:PATH`, `sqlite::memory:`, or `postgres://…`. */
export async function openDb(url: string): Promise<Db> {
  if (url.startsWith('sqlite:')) return new SqliteDb(url.slice('sqlite:'.length));
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    const { PostgresDb } = await import('./postgres.js');
    return PostgresDb.connect(url);
  }
  throw new Error(`store.url: unsupported store "${url.split(':')[0]}" (use sqlite:PATH or postgres://…)`);
}
