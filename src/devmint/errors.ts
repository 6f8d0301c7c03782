// NUT-00 errors of the development mint: HTTP 400 with {"detail","code"}.
// Codes from cashubtc/nuts error_codes.md; 10000/11000 are Nutshell's generic "not allowed" and
// "transaction error" codes for cases the table does not name.

export const Code = {
  NOT_ALLOWED: 10000,
  PROOF_INVALID: 10001,
  TRANSACTION: 11000,
  PROOFS_SPENT: 11001,
  PROOFS_PENDING: 11002,
  OUTPUTS_SIGNED: 11003,
  UNBALANCED: 11005,
  AMOUNT_LIMIT: 11006,
  DUPLICATE_INPUTS: 11007,
  DUPLICATE_OUTPUTS: 11008,
  MULTIPLE_UNITS: 11009,
  AMOUNTLESS_INVOICE: 11011,
  UNIT_UNSUPPORTED: 11013,
  MAX_INPUTS: 11014,
  MAX_OUTPUTS: 11015,
  KEYSET_UNKNOWN: 12001,
  KEYSET_INACTIVE: 12002,
  QUOTE_NOT_PAID: 20001,
  QUOTE_ISSUED: 20002,
  QUOTE_PENDING: 20005,
  INVOICE_PAID: 20006,
  QUOTE_EXPIRED: 20007,
} as const;

export type MintErrorCode = (typeof Code)[keyof typeof Code];

/** A protocol error the mint answers with HTTP 400 {"detail","code"}. `detail` never holds secrets. */
export class MintError extends Error {
  readonly code: MintErrorCode;
  readonly status = 400;

  constructor(code: MintErrorCode, detail: string) {
    super(detail);
    this.name = 'MintError';
    this.code = code;
  }

  toBody(): { detail: string; code: number } {
    return { detail: this.message, code: this.code };
  }
}

/** Throws MintError(code, detail) when cond holds. */
export function failIf(cond: boolean, code: MintErrorCode, detail: string): void {
  if (cond) throw new MintError(code, detail);
}
