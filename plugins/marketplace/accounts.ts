import { createHash } from 'node:crypto';
import type { Db } from '../../src/store/db.js';
import { migrate, type MigrationSet } from '../../src/store/migrate.js';
import { DIRECTORY_SCHEMA } from './directory.js';

// Owlrun node agents' identities, in the store (every replica sees them):
// - a provider per agent key joined by trust on first use (only the key's sha256 is kept);
// - each node's last registration (the agent registers before every WebSocket dial, and the
//   dial may reach another replica than the registration did).

export const MARKETPLACE_SCHEMA = `
CREATE TABLE IF NOT EXISTS marketplace_providers (
  key_sha256 TEXT PRIMARY KEY,
  provider TEXT NOT NULL UNIQUE,
  created_at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS marketplace_nodes (
  key_sha256 TEXT NOT NULL,
  node_id TEXT NOT NULL,
  provider TEXT NOT NULL,
  models TEXT NOT NULL,
  info TEXT NOT NULL,
  registered_at BIGINT NOT NULL,
  PRIMARY KEY (key_sha256, node_id)
);
`;

/** Schema versions of the marketplace's tables (src/store/migrate.ts: never edit a released one, append). */
export const MARKETPLACE_MIGRATIONS: MigrationSet = {
  owner: 'marketplace',
  migrations: [
    { version: 1, name: 'first schema', up: MARKETPLACE_SCHEMA },
    { version: 2, name: 'replicas share their agents (directory, cluster secret)', up: DIRECTORY_SCHEMA },
  ],
};

export const keyDigest = (key: string): string => createHash('sha256').update(key).digest('hex');

/** The provider id of a key joined on first use: derived from its digest, so it names no secret. */
export const providerIdOf = (digest: string): string => `owlr-${digest.slice(0, 16)}`;

export interface NodeRegistration {
  provider: string;
  nodeId: string;
  models: string[];
  /** What the agent told about itself (GPU, VRAM, version, region), for the operator. */
  info: Record<string, unknown>;
  registeredAt: number;
}

export class MarketplaceAccounts {
  constructor(private readonly db: Db) {}

  async init(): Promise<void> {
    await migrate(this.db, [MARKETPLACE_MIGRATIONS]);
  }

  /** The provider a key joined as, if it ever did. */
  async providerOfKey(key: string): Promise<string | undefined> {
    const row = await this.db.get<{ provider: string }>(`SELECT provider FROM marketplace_providers WHERE key_sha256 = ?`, [keyDigest(key)]);
    return row?.provider;
  }

  /** Trust on first use: the key's provider, created when the key is new. */
  async join(key: string, now: number): Promise<string> {
    const digest = keyDigest(key);
    const provider = providerIdOf(digest);
    await this.db.tx(async (sql) => {
      const row = await sql.get(`SELECT provider FROM marketplace_providers WHERE key_sha256 = ?`, [digest]);
      if (!row) await sql.run(`INSERT INTO marketplace_providers (key_sha256, provider, created_at) VALUES (?, ?, ?)`, [digest, provider, now]);
    });
    return provider;
  }

  async register(key: string, r: NodeRegistration): Promise<void> {
    const digest = keyDigest(key);
    await this.db.tx(async (sql) => {
      await sql.run(`DELETE FROM marketplace_nodes WHERE key_sha256 = ? AND node_id = ?`, [digest, r.nodeId]);
      await sql.run(`INSERT INTO marketplace_nodes (key_sha256, node_id, provider, models, info, registered_at) VALUES (?, ?, ?, ?, ?, ?)`, [
        digest, r.nodeId, r.provider, JSON.stringify(r.models), JSON.stringify(r.info), r.registeredAt,
      ]);
    });
  }

  /** The key's registrations made since `since`, newest first (a WebSocket dial follows its registration). */
  async registrations(key: string, since: number): Promise<NodeRegistration[]> {
    const rows = await this.db.all<{ provider: string; node_id: string; models: string; info: string; registered_at: number }>(
      `SELECT provider, node_id, models, info, registered_at FROM marketplace_nodes WHERE key_sha256 = ? AND registered_at >= ? ORDER BY registered_at DESC`,
      [keyDigest(key), since],
    );
    return rows.map((r) => ({ provider: r.provider, nodeId: r.node_id, models: parseList(r.models), info: parseObject(r.info), registeredAt: Number(r.registered_at) }));
  }
}

function parseList(text: string): string[] {
  try {
    const v: unknown = JSON.parse(text);
    return Array.isArray(v) ? v.filter((m): m is string => typeof m === 'string') : [];
  } catch {
    return [];
  }
}

function parseObject(text: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
