import { ERRORS, type ErrorType } from '../../src/errors.js';

// The errors of the provider, registration and operator endpoints. Same OpenAI shape and stable
// codes as src/errors.ts (whose codes are reused where they fit: auth_missing_key,
// auth_invalid_key, invalid_json, invalid_request, body_too_large, cashu_mint_unreachable,
// route_not_found, internal_error); the codes below are this plugin's own, defined in the one
// catalogue (src/errors.ts).

interface Spec {
  readonly status: number;
  readonly type: ErrorType;
  readonly message: string;
}

export const PROVIDER_ERRORS = {
  insufficient_balance: ERRORS.insufficient_balance,
  balance_locked: ERRORS.balance_locked,
  invoice_invalid: ERRORS.invoice_invalid,
  withdrawal_failed: ERRORS.withdrawal_failed,
  withdrawal_not_found: ERRORS.withdrawal_not_found,
  node_unreachable: ERRORS.node_unreachable,
  node_conflict: ERRORS.node_conflict,
  node_not_found: ERRORS.node_not_found,
} as const satisfies Record<string, Spec>;

export type ApiErrorCode = keyof typeof PROVIDER_ERRORS | keyof typeof ERRORS;

function spec(code: ApiErrorCode): Spec {
  return (PROVIDER_ERRORS as Record<string, Spec>)[code] ?? (ERRORS as Record<string, Spec>)[code]!;
}

export class ApiError extends Error {
  readonly status: number;
  readonly type: ErrorType;

  constructor(
    readonly code: ApiErrorCode,
    message?: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message ?? spec(code).message);
    this.name = 'ApiError';
    this.status = spec(code).status;
    this.type = spec(code).type;
  }

  toBody(): { error: { message: string; type: ErrorType; code: string } } {
    return { error: { message: this.message, type: this.type, code: this.code } };
  }
}

interface Answerable {
  status: number;
  body: unknown;
  set(h: Record<string, string>): void;
}

/**
 * Runs a handler and answers its ApiError or GatewayError here (recognised by shape: under tsx a
 * test may hold another copy of src/errors.ts than the app's error handler).
 */
export async function answerErrors(ctx: Answerable, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    const e = err as { status?: unknown; code?: unknown; headers?: unknown; toBody?: unknown };
    if (!(err instanceof Error) || typeof e.status !== 'number' || typeof e.code !== 'string' || typeof e.toBody !== 'function') throw err;
    ctx.status = e.status;
    if (e.headers && typeof e.headers === 'object') ctx.set(e.headers as Record<string, string>);
    ctx.body = (e.toBody as () => unknown).call(err);
  }
}
