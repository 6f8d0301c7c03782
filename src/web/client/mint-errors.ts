// What went wrong at the mint, said plainly: unreachable, refused (and why), or an expired invoice.
import { HttpResponseError, MintOperationError, NetworkError } from '@cashu/cashu-ts';
import { WalletError } from './wallet.js';

/** NUT error codes the page words itself. */
const EXPIRED = new Set([20007]); // quote expired
const ALREADY_PAID = new Set([20006]);
const SPENT = 11001;

function unreachable(err: unknown): boolean {
  if (err instanceof NetworkError) return true;
  // fetch() rejects with a TypeError ("Failed to fetch", "NetworkError when attempting to fetch…").
  return err instanceof TypeError || (err instanceof Error && err.cause instanceof TypeError);
}

/** A sentence about a failed mint request: `doing` is what the page tried ("create the invoice"). */
export function describeMintError(err: unknown, mint: string, doing: string): string {
  if (err instanceof WalletError) return err.message;
  if (unreachable(err)) return `Could not reach the mint at ${mint} to ${doing}: check your connection and try again.`;
  if (err instanceof MintOperationError) {
    if (EXPIRED.has(err.code) || /expir/i.test(err.message)) return `The mint refused to ${doing}: the invoice has expired.`;
    if (ALREADY_PAID.has(err.code)) return `The mint refused to ${doing}: that invoice is already paid.`;
    if (err.code === SPENT) return `The mint refused to ${doing}: those sats were already spent.`;
    return `The mint refused to ${doing}: ${err.message}`;
  }
  if (err instanceof HttpResponseError) return `The mint at ${mint} could not ${doing} (HTTP ${err.status}): ${err.message}`;
  return `Could not ${doing}: ${err instanceof Error ? err.message : String(err)}`;
}
