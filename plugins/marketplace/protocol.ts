// The Owlrun node protocol's WebSocket messages, as the public Go agent (v0.9.19) reads and
// writes them (docs/owlrun-node-protocol.md). The agent leaves out every zero field, so a
// missing number is 0; what the gateway sends must fit the agent's Go struct or the agent
// drops the connection: integers as JSON integers, strings as strings, each message < 32 KiB.

/** The agent's read limit is 32768 bytes per message; stay under it with room to spare. */
export const MAX_SENT_BYTES = 32 * 1024 - 256;

export type NodeMessage =
  | { type: 'heartbeat'; queueDepth: number; vramFreeMb: number; gpuUtilPct: number }
  | { type: 'pong' }
  | { type: 'accept'; jobId: string }
  | { type: 'reject'; jobId: string; reason: string }
  | { type: 'proxy_chunk'; jobId: string; data: string }
  | { type: 'proxy_done'; jobId: string }
  | { type: 'unknown' };

type Obj = Record<string, unknown>;
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const int = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? Math.max(0, Math.floor(v)) : 0);

/** Parses one text frame from a node; undefined when it is not a JSON object (the frame is ignored). */
export function parseNodeMessage(text: string): NodeMessage | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const m = v as Obj;
  const jobId = str(m.job_id);
  switch (m.type) {
    case 'heartbeat':
      return { type: 'heartbeat', queueDepth: int(m.queue_depth), vramFreeMb: int(m.vram_free_mb), gpuUtilPct: int(m.gpu_util_pct) };
    case 'pong':
      return { type: 'pong' };
    case 'accept':
      return jobId ? { type: 'accept', jobId } : undefined;
    case 'reject':
      return jobId ? { type: 'reject', jobId, reason: str(m.reason) || 'unspecified' } : undefined;
    case 'proxy_chunk':
      return jobId ? { type: 'proxy_chunk', jobId, data: str(m.data) } : undefined;
    case 'proxy_done':
      return jobId ? { type: 'proxy_done', jobId } : undefined;
    default:
      return { type: 'unknown' };
  }
}

/** What the agent's dashboard shows and its payouts trigger on: money in MILLIsatoshis despite the names. */
export interface HeartbeatAck {
  status: string;
  jobs_today: number;
  tokens_today: number;
  earned_today_usd: number;
  earned_today_sats: number;
  earned_total_sats: number;
  balance_sats: number;
  queue_depth_global: number;
  btc_live_usd: number;
}

export type GatewayMessage =
  | ({ type: 'heartbeat_ack' } & HeartbeatAck)
  | { type: 'job'; job_id: string; model: string; vram_required_mb: number }
  | { type: 'job_complete'; job_id: string; model: string; tokens: number; earned_usd: number }
  | { type: 'ping' }
  | { type: 'drain' };

/** Fields of the agent's Go struct that are integers: a fraction or a string there breaks its decoder. */
const INTEGER_FIELDS = new Set(['jobs_today', 'tokens_today', 'earned_today_sats', 'earned_total_sats', 'balance_sats', 'queue_depth_global', 'vram_required_mb', 'tokens', 'karma_score', 'free_tier_jobs']);

/**
 * Serialises a message for the agent. MUST hold: integer fields are safe integers (floored,
 * never negative), floats finite, and the whole frame under MAX_SENT_BYTES (throws otherwise:
 * a frame the agent cannot read would cost the connection).
 */
export function encodeGatewayMessage(msg: GatewayMessage): string {
  const out: Obj = {};
  for (const [k, v] of Object.entries(msg)) {
    if (INTEGER_FIELDS.has(k)) out[k] = typeof v === 'number' && Number.isFinite(v) ? Math.min(Number.MAX_SAFE_INTEGER, Math.max(0, Math.floor(v))) : 0;
    else if (typeof v === 'number') out[k] = Number.isFinite(v) ? v : 0;
    else out[k] = v;
  }
  const text = JSON.stringify(out);
  if (Buffer.byteLength(text) > MAX_SENT_BYTES) throw new Error(`owlrun message ${msg.type} is ${Buffer.byteLength(text)} bytes, over the agent's limit`);
  return text;
}
