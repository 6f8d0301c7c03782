// NUT error codes (cashubtc/nuts error_codes.md) → the gateway's public error codes.
// Contract: a 'protocol' answer means the mint refused, so the client's token is untouched.

import { GatewayError, type ErrorCode } from '../errors.js';
import { MintRequestError } from './mint-client.js';

const BY_NUT_CODE: Record<number, ErrorCode> = {
  10001: 'cashu_proofs_invalid', // proof verification failed
  10003: 'cashu_proofs_invalid', // (older spec) token could not be verified
  11001: 'cashu_token_spent', // proofs already spent
  11002: 'cashu_token_pending', // proofs are pending (in another transaction at the mint)
  11005: 'cashu_proofs_invalid', // transaction not balanced
  11006: 'cashu_proofs_invalid', // amount outside of limit range
  11007: 'cashu_token_duplicate_proofs', // duplicate inputs
  11009: 'cashu_proofs_invalid', // inputs/outputs of multiple units
  11010: 'cashu_proofs_invalid', // inputs and outputs not of same unit
  11013: 'cashu_unit_unsupported',
  11014: 'cashu_proofs_invalid', // max inputs exceeded
  12001: 'cashu_keyset_unknown',
  12002: 'cashu_keyset_unknown', // keyset inactive
  12003: 'cashu_keyset_unknown', // keyset expired
};

/**
 * Codes that blame the gateway's own outputs (already signed/pending, duplicate, too many): the
 * client did nothing wrong and its token is untouched.
 */
const OUR_OUTPUTS = new Set([11003, 11004, 11008, 11015]);

/** The public error for a failed swap/restore request. */
export function gatewayErrorOf(err: unknown): GatewayError {
  if (err instanceof GatewayError) return err;
  if (!(err instanceof MintRequestError)) return new GatewayError('internal_error');
  if (err.kind === 'network') return new GatewayError('cashu_mint_unreachable');
  if (err.kind === 'protocol' && err.mintCode !== undefined) {
    if (OUR_OUTPUTS.has(err.mintCode)) return new GatewayError('internal_error', `the mint refused the gateway's outputs (${err.mintCode})`);
    return new GatewayError(BY_NUT_CODE[err.mintCode] ?? 'cashu_proofs_invalid');
  }
  // Rate limited, server-side failure, or an answer that may hide a completed swap: try later.
  if (err.mayHaveArrived || err.status === 429 || (err.status ?? 500) >= 500) return new GatewayError('cashu_mint_unreachable');
  return new GatewayError('cashu_proofs_invalid');
}

/**
 * The mint may or may not have executed the claim (no answer, or an answer we could not store).
 * The job's outputs stay pending; recoverPending() turns them into held proofs or 'failed'.
 */
export class ClaimInDoubtError extends GatewayError {
  constructor(readonly jobId: string, code: ErrorCode = 'cashu_mint_unreachable', message?: string) {
    super(code, message ?? 'the mint did not answer the claim; it is recovered later if it happened');
  }
}
