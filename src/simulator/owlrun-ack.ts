// What the Owlrun agent's Go decoder accepts from the gateway (its wsMsg struct): a field of the
// wrong JSON type, or a message over 32 KiB, fails the read and ends the agent's session.

/** The agent's view of a heartbeat_ack: money in millisatoshis. */
export interface AgentStats {
  status: string;
  jobs_today: number;
  tokens_today: number;
  earned_today_usd: number;
  earned_today_sats: number;
  earned_total_sats: number;
  balance_sats: number;
  queue_depth_global: number;
}

const INTEGERS = ['vram_required_mb', 'gpu_util_pct', 'vram_free_mb', 'temp_c', 'queue_depth', 'jobs_today', 'tokens_today', 'earned_today_sats', 'earned_total_sats', 'queue_depth_global', 'balance_sats', 'karma_score', 'free_tier_jobs', 'tokens'];
const FLOATS = ['power_w', 'earned_today_usd', 'btc_live_usd', 'btc_yesterday_fix', 'btc_daily_avg', 'btc_weekly_avg', 'earned_usd'];
const STRINGS = ['type', 'node_id', 'job_id', 'model', 'buyer_region', 'earning_state', 'status', 'btc_price_status', 'karma_tier', 'reason', 'data'];
const MAX_MESSAGE_BYTES = 32768;

/** The message as the agent decodes it, or undefined when its decoder would fail (session over). */
export function checkAck(text: string): Record<string, unknown> | undefined {
  if (Buffer.byteLength(text) > MAX_MESSAGE_BYTES) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const m = v as Record<string, unknown>;
  for (const k of INTEGERS) if (k in m && m[k] !== null && !(typeof m[k] === 'number' && Number.isSafeInteger(m[k]))) return undefined;
  for (const k of FLOATS) if (k in m && m[k] !== null && typeof m[k] !== 'number') return undefined;
  for (const k of STRINGS) if (k in m && m[k] !== null && typeof m[k] !== 'string') return undefined;
  if ('free_tier' in m && m.free_tier !== null && typeof m.free_tier !== 'boolean') return undefined;
  for (const k of ['broadcasts', 'withdraw_history']) if (k in m && m[k] !== null && !Array.isArray(m[k])) return undefined;
  // Missing fields read as zero values.
  for (const k of INTEGERS) m[k] ??= 0;
  return m;
}
