import { randomBytes } from 'node:crypto';
import type { BroadcastConfig } from './config.js';
import { ConfigError } from '../../src/config/spec.js';
import { GatewayError } from '../../src/errors.js';
import type { Db } from '../../src/store/db.js';
import { migrate, type MigrationSet } from '../../src/store/migrate.js';

// System announcements: those of the config (`broadcasts:`), and those an operator adds at run
// time with POST /admin/broadcasts (kept in the store, so every replica and a restart see them).
// Only current ones are listed: starts_at ≤ now < ends_at, either bound optional.

export type BroadcastLevel = 'info' | 'warning' | 'critical';
export const LEVELS: readonly BroadcastLevel[] = ['info', 'warning', 'critical'];

export interface Broadcast {
  id: string;
  message: string;
  level: BroadcastLevel;
  startsAt?: number;
  endsAt?: number;
  source: 'config' | 'admin';
  createdAt: number;
}

export interface BroadcastView {
  id: string;
  message: string;
  level: BroadcastLevel;
  starts_at: string | null;
  ends_at: string | null;
  source: 'config' | 'admin';
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS oracle_broadcasts (
  id TEXT PRIMARY KEY,
  message TEXT NOT NULL,
  level TEXT NOT NULL,
  starts_at BIGINT,
  ends_at BIGINT,
  created_at BIGINT NOT NULL
);
`;

/** Schema versions of oracle_broadcasts (src/store/migrate.ts: never edit a released one, append). */
export const BROADCASTS_MIGRATIONS: MigrationSet = {
  owner: 'oracle_broadcasts',
  migrations: [{ version: 1, name: 'first schema', up: SCHEMA }],
};

export const ID_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/;
export const MAX_MESSAGE = 2000;
const FIELDS = ['id', 'message', 'level', 'starts_at', 'ends_at'];

/** An ISO 8601 time (with a zone or Z) as epoch ms; undefined for an absent value. */
export function parseTime(v: unknown, key: string): number | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw new Error(`${key}: expected an ISO 8601 time string, e.g. 2025-01-31T02:00:00Z`);
  const t = Date.parse(v);
  if (!/^\d{4}-\d{2}-\d{2}/.test(v.trim()) || !Number.isFinite(t)) throw new Error(`${key}: not an ISO 8601 time: ${JSON.stringify(v)}`);
  return t;
}

export const isCurrent = (b: Pick<Broadcast, 'startsAt' | 'endsAt'>, now: number): boolean =>
  (b.startsAt === undefined || b.startsAt <= now) && (b.endsAt === undefined || now < b.endsAt);

export function view(b: Broadcast): BroadcastView {
  return {
    id: b.id,
    message: b.message,
    level: b.level,
    starts_at: b.startsAt === undefined ? null : new Date(b.startsAt).toISOString(),
    ends_at: b.endsAt === undefined ? null : new Date(b.endsAt).toISOString(),
    source: b.source,
  };
}

/** Checks an announcement (from the config or a request); `where` prefixes error messages. */
export function checkBroadcast(input: Record<string, unknown>, source: Broadcast['source'], now: number, where = ''): Broadcast {
  const p = (k: string) => (where ? `${where}.${k}` : k);
  const id = input.id;
  if (typeof id !== 'string' || !ID_PATTERN.test(id)) throw new Error(`${p('id')}: 1-64 characters of A-Z a-z 0-9 . _ : -`);
  const message = input.message;
  if (typeof message !== 'string' || message.trim() === '') throw new Error(`${p('message')}: a non-empty string is required`);
  if (message.length > MAX_MESSAGE) throw new Error(`${p('message')}: at most ${MAX_MESSAGE} characters`);
  const level = input.level ?? 'info';
  if (typeof level !== 'string' || !LEVELS.includes(level as BroadcastLevel)) throw new Error(`${p('level')}: one of ${LEVELS.join(' | ')}`);
  const startsAt = parseTime(input.starts_at, p('starts_at'));
  const endsAt = parseTime(input.ends_at, p('ends_at'));
  if (startsAt !== undefined && endsAt !== undefined && endsAt <= startsAt) throw new Error(`${p('ends_at')}: must be after starts_at`);
  return { id, message, level: level as BroadcastLevel, startsAt, endsAt, source, createdAt: now };
}

export class Broadcasts {
  private readonly fromConfig: Broadcast[];

  constructor(
    private readonly db: Db,
    config: readonly BroadcastConfig[],
    private readonly now: () => number,
  ) {
    const seen = new Set<string>();
    this.fromConfig = config.map((c, i) => {
      const where = `broadcasts[${i}]`;
      let b: Broadcast;
      try {
        b = checkBroadcast(c as unknown as Record<string, unknown>, 'config', 0);
      } catch (err) {
        const msg = (err as Error).message;
        const key = /^([a-z_]+): /.exec(msg);
        throw new ConfigError(key ? `${where}.${key[1]}` : where, key ? msg.slice(key[0].length) : msg);
      }
      if (seen.has(b.id)) throw new ConfigError(`${where}.id`, `duplicate id "${b.id}"`);
      seen.add(b.id);
      return b;
    });
  }

  async init(): Promise<void> {
    await migrate(this.db, [BROADCASTS_MIGRATIONS]);
  }

  /** The current announcements: the config's first (in order), then the operator's (oldest first). */
  async current(): Promise<Broadcast[]> {
    const now = this.now();
    const stored = await this.stored();
    return [...this.fromConfig, ...stored].filter((b) => isCurrent(b, now));
  }

  /** Adds an announcement, or replaces the operator's one with the same id. Returns whether it was new. */
  async put(input: Record<string, unknown>): Promise<{ broadcast: Broadcast; created: boolean }> {
    for (const k of Object.keys(input)) {
      if (!FIELDS.includes(k)) throw new GatewayError('invalid_request', `${k}: unknown field (known: ${FIELDS.join(', ')})`);
    }
    if (input.id === undefined) input = { ...input, id: `b-${randomBytes(8).toString('hex')}` };
    let b: Broadcast;
    try {
      b = checkBroadcast(input, 'admin', this.now());
    } catch (err) {
      throw new GatewayError('invalid_request', (err as Error).message);
    }
    if (this.fromConfig.some((c) => c.id === b.id)) throw new GatewayError('invalid_request', `id: "${b.id}" is a broadcast of the config file; change it there`);
    const created = await this.db.tx(async (sql) => {
      const had = await sql.get('SELECT id FROM oracle_broadcasts WHERE id = ?', [b.id]);
      await sql.run(
        'INSERT INTO oracle_broadcasts (id, message, level, starts_at, ends_at, created_at) VALUES (?, ?, ?, ?, ?, ?) ' +
          'ON CONFLICT (id) DO UPDATE SET message = excluded.message, level = excluded.level, starts_at = excluded.starts_at, ends_at = excluded.ends_at',
        [b.id, b.message, b.level, b.startsAt ?? null, b.endsAt ?? null, b.createdAt],
      );
      return !had;
    });
    return { broadcast: b, created };
  }

  /** Removes an operator's announcement; false when there is none with that id. */
  async remove(id: string): Promise<boolean> {
    if (this.fromConfig.some((c) => c.id === id)) throw new GatewayError('invalid_request', `"${id}" is a broadcast of the config file; remove it there`);
    return (await this.db.run('DELETE FROM oracle_broadcasts WHERE id = ?', [id])) > 0;
  }

  private async stored(): Promise<Broadcast[]> {
    const rows = await this.db.all<{ id: string; message: string; level: string; starts_at: number | null; ends_at: number | null; created_at: number }>(
      'SELECT id, message, level, starts_at, ends_at, created_at FROM oracle_broadcasts ORDER BY created_at, id',
    );
    return rows.map((r) => ({
      id: r.id,
      message: r.message,
      level: LEVELS.includes(r.level as BroadcastLevel) ? (r.level as BroadcastLevel) : 'info',
      startsAt: r.starts_at === null ? undefined : Number(r.starts_at),
      endsAt: r.ends_at === null ? undefined : Number(r.ends_at),
      source: 'admin' as const,
      createdAt: Number(r.created_at),
    }));
  }
}
