import type { KeysetKeys } from './keysets.js';
import type { BlindedMessageJson, PreparedOutput } from './outputs.js';

// Plain data shapes of the gateway's wallet. Amounts are JS numbers (integers < 2^53): the
// wallet converts from/to cashu-ts `Amount` at its edges only.

/** NUT-12 DLEQ proof as carried in tokens (hex strings; `r` is the blinding factor). */
export interface DleqJson {
  readonly s: string;
  readonly e: string;
  readonly r?: string;
}

/** One proof (NUT-00). `witness` only for spending conditions (NUT-10/11/14), as a JSON string. */
export interface WalletProof {
  readonly id: string;
  readonly amount: number;
  readonly secret: string;
  readonly C: string;
  readonly dleq?: DleqJson;
  readonly witness?: string;
}

/** 'A' = NUT-00 V3 (`cashuA`, JSON), 'B' = V4 (`cashuB`, CBOR). Change goes back in the same format. */
export type TokenFormat = 'A' | 'B';

/** A token the gateway decoded and checked, not yet claimed. */
export interface InspectedToken {
  readonly format: TokenFormat;
  /** The trusted mint's URL as configured (normalized); the wallet talks to this URL. */
  readonly mint: string;
  readonly unit: 'sat';
  /** Sum of the proofs' amounts, in sats. */
  readonly amount: number;
  readonly proofs: readonly WalletProof[];
  /** NUT-02 input fee of these proofs: ceil(Σ input_fee_ppk / 1000). The client pays it. */
  readonly inputFee: number;
  /** The header value, trimmed: echo it back as the untouched token when nothing was claimed. */
  readonly raw: string;
  /** Short sha256 prefix of `raw`, safe to log. */
  readonly hash: string;
}

/** Mint operations reported to `onMintRequest`, for metrics. */
export type MintOp = 'info' | 'keysets' | 'keys' | 'swap' | 'restore' | 'melt_quote' | 'melt';

export type MintRequestHook = (op: MintOp, outcome: 'ok' | 'error', seconds: number) => void;

/** The logger the wallet writes to (pino-compatible subset). Never gets a token or a secret. */
export interface WalletLogger {
  debug?(obj: object, msg?: string): void;
  info?(obj: object, msg?: string): void;
  warn?(obj: object, msg?: string): void;
  error?(obj: object, msg?: string): void;
}

export interface ClaimResult {
  /** Sats now held for the job: the token's amount net of the mint's input fee. */
  amount: number;
  /** The NUT-02 input fee the mint kept (the client's). */
  fee: number;
}

/** NUT-03 input as sent to the mint (no dleq, witness only for locked proofs). */
export interface SwapInputJson {
  amount: number;
  id: string;
  secret: string;
  C: string;
  witness?: string;
}

/** A claim checked against its mint (GatewayWallet.planClaim): nothing made, stored or sent yet. */
export interface ClaimPlan {
  readonly jobId: string;
  readonly mint: string;
  /** Sats the claim yields: the token's amount less the input fee. */
  readonly amount: number;
  readonly fee: number;
  readonly keyset: KeysetKeys;
  /** The outputs' amounts (claimDenominations). */
  readonly amounts: readonly number[];
  /** The swap's inputs: the client's proofs. Never log them. */
  readonly inputs: SwapInputJson[];
}

/** A claim whose outputs are committed 'pending' but whose swap has not been sent. */
export interface PreparedClaim {
  readonly jobId: string;
  readonly mint: string;
  readonly amount: number;
  readonly fee: number;
  readonly keyset: KeysetKeys;
  readonly outputs: readonly PreparedOutput[];
  /** The POST /v1/swap body. Holds the client's proofs: never log it. */
  readonly request: { inputs: SwapInputJson[]; outputs: BlindedMessageJson[] };
}
