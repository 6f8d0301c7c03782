// Every error the gateway can send, in one greppable catalogue (as Fastify's lib/errors.js).
// A `code` is a stable public contract: never rename one; add new ones.

export type ErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'payment_required'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'server_error'
  | 'service_unavailable';

interface ErrorSpec {
  readonly status: number;
  readonly type: ErrorType;
  readonly message: string;
}

export const ERRORS = {
  // 400
  invalid_json: { status: 400, type: 'invalid_request_error', message: 'request body is not valid JSON' },
  invalid_request: { status: 400, type: 'invalid_request_error', message: 'invalid request' },
  cashu_token_invalid: { status: 400, type: 'invalid_request_error', message: 'X-Cashu is not a decodable Cashu token' },
  cashu_token_malformed_proofs: { status: 400, type: 'invalid_request_error', message: 'the token holds malformed proofs' },
  cashu_token_duplicate_proofs: { status: 400, type: 'invalid_request_error', message: 'the token holds the same proof twice' },
  // 401
  auth_missing_key: { status: 401, type: 'authentication_error', message: 'an API key is required: Authorization: Bearer KEY' },
  auth_invalid_key: { status: 401, type: 'authentication_error', message: 'the API key is not valid' },
  // 402
  cashu_payment_required: { status: 402, type: 'payment_required', message: 'payment required: send a Cashu token in X-Cashu' },
  cashu_token_spent: { status: 402, type: 'payment_required', message: 'the token has already been spent' },
  cashu_token_pending: { status: 402, type: 'payment_required', message: 'the token is pending at the mint' },
  cashu_proofs_invalid: { status: 402, type: 'payment_required', message: 'the mint rejected the proofs as invalid' },
  cashu_mint_untrusted: { status: 402, type: 'payment_required', message: 'the token is from a mint this gateway does not accept' },
  cashu_unit_unsupported: { status: 402, type: 'payment_required', message: 'the token is not denominated in sat' },
  cashu_keyset_unknown: { status: 402, type: 'payment_required', message: 'the token uses a keyset the mint does not know' },
  cashu_amount_too_low: { status: 402, type: 'payment_required', message: 'the token is worth less than this request can cost' },
  cashu_amount_invalid: { status: 402, type: 'payment_required', message: 'the token amount is not a valid positive amount' },
  // 404
  route_not_found: { status: 404, type: 'not_found_error', message: 'no such route' },
  no_backend_for_model: { status: 404, type: 'not_found_error', message: 'no backend serves this model' },
  receipt_not_found: { status: 404, type: 'not_found_error', message: 'no change is kept for this receipt' },
  // 429
  rate_limited: { status: 429, type: 'rate_limit_error', message: 'too many unpaid requests from this address; retry later, or pay with X-Cashu (paid requests are never limited)' },
  // 413, 431
  body_too_large: { status: 413, type: 'invalid_request_error', message: 'request body is larger than server.bodyLimit' },
  // 500
  internal_error: { status: 500, type: 'server_error', message: 'internal error' },
  // 502/503
  backend_unavailable: { status: 503, type: 'service_unavailable', message: 'no healthy backend could take the request' },
  backend_error: { status: 502, type: 'server_error', message: 'the backend failed before producing output' },
  cashu_mint_unreachable: { status: 503, type: 'service_unavailable', message: 'the mint cannot be reached' },
  shutting_down: { status: 503, type: 'service_unavailable', message: 'the gateway is shutting down' },
  // providers, node registration and the operator (plugins/providers)
  insufficient_balance: { status: 409, type: 'invalid_request_error', message: 'the balance does not cover this withdrawal (fees included)' },
  balance_locked: { status: 409, type: 'invalid_request_error', message: 'the held proofs cannot pay this now (a withdrawal in flight holds some of them); try again shortly or withdraw less' },
  invoice_invalid: { status: 400, type: 'invalid_request_error', message: 'the mint will not pay this invoice' },
  withdrawal_failed: { status: 502, type: 'server_error', message: 'the mint refused the withdrawal; the balance is whole' },
  withdrawal_not_found: { status: 404, type: 'not_found_error', message: 'no such withdrawal' },
  // One answer for every refused target (private address, taken endpoint, closed port, failed
  // health check): it must not tell a provider anything about what the gateway can reach.
  node_refused: { status: 422, type: 'invalid_request_error', message: 'the node was not registered: its URL must reach a healthy inference server at a public address that no other node, backend or gateway uses' },
  node_not_found: { status: 404, type: 'not_found_error', message: 'no such registered node of this provider' },
  // nodes that dial in (the Owlrun node protocol)
  job_not_found: { status: 404, type: 'not_found_error', message: 'no job waiting for this node under this id (or its request was already fetched)' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

/** One error class; `code` picks the status, type and default message from the catalogue. */
export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly type: ErrorType;
  readonly headers: Record<string, string>;

  constructor(code: ErrorCode, message?: string, headers: Record<string, string> = {}) {
    const spec: ErrorSpec = ERRORS[code];
    super(message ?? spec.message);
    this.name = 'GatewayError';
    this.code = code;
    this.status = spec.status;
    this.type = spec.type;
    this.headers = headers;
  }

  toBody(): ErrorBody {
    return errorBody(this.code, this.message);
  }
}

export interface ErrorBody {
  error: { message: string; type: ErrorType; code: ErrorCode };
}

export function errorBody(code: ErrorCode, message?: string): ErrorBody {
  const spec: ErrorSpec = ERRORS[code];
  return { error: { message: message ?? spec.message, type: spec.type, code } };
}
