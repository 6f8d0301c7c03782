// The gateway's Cashu wallet: public surface for the rest of the gateway.
export { GatewayWallet, type GatewayWalletOptions } from './wallet.js';
export { ClaimInDoubtError } from './mint-errors.js';
export { claimDenominations, selectExact, selectExactItems } from './split.js';
export { encodeToken, readTokenHeader, MAX_TOKEN_AMOUNT, MAX_TOKEN_CHARS } from './token-format.js';
export { normalizeMintUrl } from './mint-url.js';
export { shortHash } from './redact.js';
export { Holdings, WALLET_SCHEMA, type ProofState, type OutputState } from './holdings.js';
export type * from './types.js';
export { Spender, SpendError, selectCovering, selectExactProofs, selectExactWithFee, payoutJobId, type MeltQuote, type PreparedSpend, type SpendHappened, type SpendHooks, type SpendOutcome } from './spend.js';
