import { randomBytes } from 'node:crypto';
import type { Db } from '../../src/store/db.js';

// Replicas on one PostgreSQL store share their agents through two tables:
// - marketplace_replica_agents: which replica holds each connected agent now (its base URL, the
//   node's models, cap and load, the sha256 of its key — never the key), renewed every sync
//   interval; an entry not renewed for DIRECTORY_TTL_SYNCS intervals is a crashed replica's and
//   is ignored;
// - marketplace_cluster: the secret replicas authenticate each other's internal calls with,
//   made by the first replica that needs it (ON CONFLICT DO NOTHING: every replica reads one).

export const DIRECTORY_SCHEMA = `
CREATE TABLE IF NOT EXISTS marketplace_replica_agents (
  node_id TEXT PRIMARY KEY,
  replica_id TEXT NOT NULL,
  replica_url TEXT NOT NULL,
  provider TEXT NOT NULL,
  models TEXT NOT NULL,
  max_concurrent BIGINT NOT NULL,
  running BIGINT NOT NULL,
  key_sha256 TEXT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS marketplace_replica_agents_key ON marketplace_replica_agents (key_sha256);
CREATE TABLE IF NOT EXISTS marketplace_cluster (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
`;

/** Sync intervals an entry may go unrenewed before it counts as a crashed replica's. */
export const DIRECTORY_TTL_SYNCS = 5;

/** One agent held by one replica, as the directory lists it. */
export interface HeldAgent {
  /** The pool id (provider/agent node id): the same on every replica. */
  nodeId: string;
  replicaId: string;
  replicaUrl: string;
  provider: string;
  models: string[];
  maxConcurrent: number;
  /** Jobs the agent runs now (as its holder sees them). */
  running: number;
  keyDigest: string;
  updatedAt: number;
}

type Row = {
  node_id: string; replica_id: string; replica_url: string; provider: string; models: string;
  max_concurrent: number; running: number; key_sha256: string; updated_at: number;
};

export class AgentDirectory {
  constructor(
    private readonly db: Db,
    /** This replica's id (random per process). */
    readonly replicaId: string,
  ) {}

  /** This replica holds the agent now (it just connected here): takes the entry over from any other replica. */
  async publish(a: Omit<HeldAgent, 'replicaId' | 'updatedAt'>, now: number): Promise<void> {
    await this.db.run(
      `INSERT INTO marketplace_replica_agents (node_id, replica_id, replica_url, provider, models, max_concurrent, running, key_sha256, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (node_id) DO UPDATE SET replica_id = excluded.replica_id, replica_url = excluded.replica_url, provider = excluded.provider,
         models = excluded.models, max_concurrent = excluded.max_concurrent, running = excluded.running, key_sha256 = excluded.key_sha256, updated_at = excluded.updated_at`,
      [a.nodeId, this.replicaId, a.replicaUrl, a.provider, JSON.stringify(a.models), a.maxConcurrent, a.running, a.keyDigest, now],
    );
  }

  /** Renews this replica's entries (only those still its own: another replica may have taken one over). */
  async renew(running: ReadonlyMap<string, number>, now: number): Promise<void> {
    for (const [nodeId, n] of running) {
      await this.db.run(`UPDATE marketplace_replica_agents SET running = ?, updated_at = ? WHERE node_id = ? AND replica_id = ?`, [n, now, nodeId, this.replicaId]);
    }
  }

  /** The agent left this replica. */
  async withdraw(nodeId: string): Promise<void> {
    await this.db.run(`DELETE FROM marketplace_replica_agents WHERE node_id = ? AND replica_id = ?`, [nodeId, this.replicaId]);
  }

  /** This replica stops: none of its agents is reachable through it any more. */
  async withdrawAll(): Promise<void> {
    await this.db.run(`DELETE FROM marketplace_replica_agents WHERE replica_id = ?`, [this.replicaId]);
  }

  /** The agents other replicas hold, renewed since `since`. */
  async others(since: number): Promise<HeldAgent[]> {
    const rows = await this.db.all<Row>(`SELECT * FROM marketplace_replica_agents WHERE replica_id <> ? AND updated_at >= ?`, [this.replicaId, since]);
    return rows.map(toAgent);
  }

  /** The base URLs of other replicas holding an agent of this key (digest), renewed since `since`. */
  async replicasOfKey(keyDigest: string, since: number): Promise<string[]> {
    const rows = await this.db.all<{ replica_url: string }>(
      `SELECT DISTINCT replica_url FROM marketplace_replica_agents WHERE key_sha256 = ? AND replica_id <> ? AND updated_at >= ?`,
      [keyDigest, this.replicaId, since],
    );
    return rows.map((r) => r.replica_url);
  }
}

/** The secret every replica of this store authenticates its internal calls with (made once, shared by all). */
export async function clusterSecret(db: Db): Promise<string> {
  await db.run(`INSERT INTO marketplace_cluster (name, value) VALUES ('secret', ?) ON CONFLICT (name) DO NOTHING`, [randomBytes(32).toString('base64url')]);
  const row = await db.get<{ value: string }>(`SELECT value FROM marketplace_cluster WHERE name = 'secret'`);
  if (!row) throw new Error('marketplace: the cluster secret could not be read back');
  return row.value;
}

function toAgent(r: Row): HeldAgent {
  let models: string[] = [];
  try {
    const v: unknown = JSON.parse(r.models);
    if (Array.isArray(v)) models = v.filter((m): m is string => typeof m === 'string');
  } catch {
    /* an unreadable list serves nothing */
  }
  return {
    nodeId: r.node_id, replicaId: r.replica_id, replicaUrl: r.replica_url, provider: r.provider, models,
    maxConcurrent: Number(r.max_concurrent), running: Number(r.running), keyDigest: r.key_sha256, updatedAt: Number(r.updated_at),
  };
}
