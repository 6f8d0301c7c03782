import type { BackendKind } from '../config/types.js';
import type { Db } from '../store/db.js';
import { migrate, type MigrationSet } from '../store/migrate.js';

// Nodes that announced themselves (POST /v1/gateway/register), kept in the store so they survive
// a restart until their TTL runs out, and so that replicas sharing a PostgreSQL store all route to
// them. A node's id is namespaced by its provider ("<provider>/<name>"): a provider can only
// announce, renew or replace its own nodes.

export const REGISTRATIONS_SCHEMA = `
CREATE TABLE IF NOT EXISTS node_registrations (
  id TEXT PRIMARY KEY,
  provider TEXT NOT NULL,
  url TEXT NOT NULL,
  kind TEXT NOT NULL,
  models TEXT NOT NULL,
  max_concurrent BIGINT NOT NULL,
  registered_at BIGINT NOT NULL,
  seen_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS node_registrations_expires ON node_registrations (expires_at);
`;

/** Schema versions of node_registrations (src/store/migrate.ts: never edit a released one, append). */
export const REGISTRATIONS_MIGRATIONS: MigrationSet = {
  owner: 'node_registrations',
  migrations: [{ version: 1, name: 'first schema', up: REGISTRATIONS_SCHEMA }],
};

export interface Registration {
  id: string;
  provider: string;
  url: string;
  kind: BackendKind;
  /** announced models ([] = discovered from the node) */
  models: string[];
  maxConcurrent: number;
  registeredAt: number;
  seenAt: number;
  expiresAt: number;
}

interface RegistrationRow {
  [k: string]: string | number | null;
  id: string;
  provider: string;
  url: string;
  kind: string;
  models: string;
  max_concurrent: number;
  registered_at: number;
  seen_at: number;
  expires_at: number;
}

function fromRow(r: RegistrationRow): Registration {
  let models: string[] = [];
  try {
    const parsed: unknown = JSON.parse(r.models);
    if (Array.isArray(parsed)) models = parsed.filter((m): m is string => typeof m === 'string');
  } catch {
    // a damaged list: discover the models from the node instead
  }
  return {
    id: r.id, provider: r.provider, url: r.url, kind: r.kind as BackendKind, models, maxConcurrent: Number(r.max_concurrent),
    registeredAt: Number(r.registered_at), seenAt: Number(r.seen_at), expiresAt: Number(r.expires_at),
  };
}

export class RegistrationsRepo {
  constructor(private readonly db: Db) {}

  async init(): Promise<void> {
    await migrate(this.db, [REGISTRATIONS_MIGRATIONS]);
  }

  /**
   * Records an announcement (first one or heartbeat). Refuses (returns the holder) when another
   * provider's live node already has this URL; otherwise the first announcement keeps its
   * registered_at.
   */
  async upsert(reg: Omit<Registration, 'registeredAt'>): Promise<{ created: boolean; registration: Registration } | { conflict: Registration }> {
    return this.db.tx(async (sql) => {
      const taken = await sql.get<RegistrationRow>(`SELECT * FROM node_registrations WHERE url = ? AND provider <> ? AND expires_at > ?`, [reg.url, reg.provider, reg.seenAt]);
      if (taken) return { conflict: fromRow(taken) };
      const old = await sql.get<RegistrationRow>(`SELECT * FROM node_registrations WHERE id = ?`, [reg.id]);
      if (old && old.provider !== reg.provider) return { conflict: fromRow(old) };
      const live = old !== undefined && Number(old.expires_at) > reg.seenAt;
      const registeredAt = live ? Number(old.registered_at) : reg.seenAt;
      await sql.run(
        `INSERT INTO node_registrations (id, provider, url, kind, models, max_concurrent, registered_at, seen_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET url = excluded.url, kind = excluded.kind, models = excluded.models, max_concurrent = excluded.max_concurrent,
           registered_at = excluded.registered_at, seen_at = excluded.seen_at, expires_at = excluded.expires_at`,
        [reg.id, reg.provider, reg.url, reg.kind, JSON.stringify(reg.models), reg.maxConcurrent, registeredAt, reg.seenAt, reg.expiresAt],
      );
      return { created: !live, registration: { ...reg, registeredAt } };
    });
  }

  /** Registrations whose TTL has not run out at `now`. */
  async live(now: number): Promise<Registration[]> {
    return (await this.db.all<RegistrationRow>(`SELECT * FROM node_registrations WHERE expires_at > ? ORDER BY id`, [now])).map(fromRow);
  }

  /** A provider's live registrations. */
  async ofProvider(provider: string, now: number): Promise<Registration[]> {
    return (await this.db.all<RegistrationRow>(`SELECT * FROM node_registrations WHERE provider = ? AND expires_at > ? ORDER BY id`, [provider, now])).map(fromRow);
  }

  /** Forgets registrations whose TTL ran out at `now`; returns their ids. */
  async expire(now: number): Promise<string[]> {
    return this.db.tx(async (sql) => {
      const ids = (await sql.all<{ id: string }>(`SELECT id FROM node_registrations WHERE expires_at <= ?`, [now])).map((r) => r.id);
      if (ids.length > 0) await sql.run(`DELETE FROM node_registrations WHERE expires_at <= ?`, [now]);
      return ids;
    });
  }

  /** A node leaves at once (its provider said so). */
  async remove(id: string, provider: string): Promise<boolean> {
    return (await this.db.run(`DELETE FROM node_registrations WHERE id = ? AND provider = ?`, [id, provider])) === 1;
  }
}
