import type { Usage } from './usage.js';

// What an untrusted node (a provider's: registered by URL or joined from the marketplace) is
// billed. Its reported usage is a claim, never a fact: each count is at most the gateway's own
// count plus a tolerance (different tokenizers disagree a little), and the completion never
// exceeds what the request allowed. Nothing delivered, nothing billed for the completion.

/** The tolerance: max(TOLERANCE_MIN_TOKENS, TOLERANCE_PERCENT % of the gateway's own count), rounded down. */
export const TOLERANCE_MIN_TOKENS = 4;
export const TOLERANCE_PERCENT = 10;

export function tolerance(own: number): number {
  return Math.max(TOLERANCE_MIN_TOKENS, Math.floor((own * TOLERANCE_PERCENT) / 100));
}

/** The gateway's own view of a job. */
export interface OwnCount {
  /** Its estimate of the prompt (the one the quote used). */
  prompt: number;
  /** Its tokenizer's count of the output it delivered. */
  completion: number;
  /** The most completion tokens the request allowed (the buyer's max_tokens for all choices, the paid budget); undefined = no cap. */
  completionCap?: number;
}

export type DisputeKind = 'prompt' | 'completion';

export interface Clamped {
  usage: Usage;
  /** Counts the node reported above what the gateway bills: one dispute each. */
  disputes: DisputeKind[];
}

/** The highest completion count the gateway bills: its own count plus the tolerance (0 when it delivered nothing), capped. */
export function completionCeiling(own: OwnCount): number {
  const ceiling = own.completion === 0 ? 0 : own.completion + tolerance(own.completion);
  return own.completionCap === undefined ? ceiling : Math.min(ceiling, own.completionCap);
}

export function promptCeiling(own: OwnCount): number {
  return own.prompt + tolerance(own.prompt);
}

/**
 * The usage to bill an untrusted node: min(its usage, the ceilings). `reported` is what the
 * node itself said (a dispute is a reported count above its ceiling; a missing or lower one
 * only costs the node).
 */
export function clampUsage(usage: Usage, own: OwnCount, reported: { prompt?: number; completion?: number }): Clamped {
  const maxPrompt = promptCeiling(own);
  const maxCompletion = completionCeiling(own);
  const disputes: DisputeKind[] = [];
  if (reported.prompt !== undefined && reported.prompt > maxPrompt) disputes.push('prompt');
  if (reported.completion !== undefined && reported.completion > maxCompletion) disputes.push('completion');
  return {
    usage: { promptTokens: Math.min(usage.promptTokens, maxPrompt), completionTokens: Math.min(usage.completionTokens, maxCompletion), source: usage.source },
    disputes,
  };
}
