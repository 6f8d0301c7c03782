import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { GatewayConfig } from '../config/types.js';
import { tryNormalizeMintUrl } from '../cashu/mint-url.js';
import { webDistDir } from './paths.js';

// The chat page for humans (GET /) and its bundle (GET /web/*), built by src/web/build.ts into
// dist/web at `npm run build`; plus GET /v1/payment/info, the little the page must know before
// it can pay: the trusted mints, the least a job costs, and whether an API key is required.

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/** Only plain file names of the bundle: no directories, no dot files, so nothing outside it. */
const ASSET = /^[a-z0-9][a-z0-9_-]*(\.[a-z0-9]+)+$/i;

export interface PaymentInfo {
  /** Payment is on (the payment plugin is enabled): every inference request needs X-Cashu. */
  payment_required: boolean;
  /** Trusted mints, the first one is where the page tops up. */
  mints: string[];
  unit: 'sat';
  min_sats_per_job: number;
  auth_required: boolean;
}

export function paymentInfo(config: GatewayConfig, paymentRequired: boolean): PaymentInfo {
  return {
    payment_required: paymentRequired,
    mints: config.payment.mints,
    unit: 'sat',
    min_sats_per_job: config.payment.minSatsPerJob,
    auth_required: config.auth.required,
  };
}

/**
 * The page talks to the gateway, to the trusted mints (top-ups, swaps) and, to withdraw to a
 * Lightning address, to that address's LNURL-pay service: any https origin.
 */
function contentSecurityPolicy(config: GatewayConfig): string {
  const mints = config.payment.mints.map((m) => tryNormalizeMintUrl(m)).filter((m): m is string => m !== null).map((m) => new URL(m).origin);
  return [
    "default-src 'self'",
    `connect-src 'self' ${[...new Set(mints)].join(' ')} https:`.replace(/ +/g, ' '),
    "img-src 'self' data:",
    "style-src 'self'",
    "script-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'none'",
  ].join('; ');
}

export interface WebRouteOptions {
  /** Some enabled plugin takes payment (it provides the trusted mints): every job needs X-Cashu. */
  paymentRequired: boolean;
  /** Where the built page is (default: dist/web of the package). */
  dir?: string;
}

/** Registers GET / (the chat page), GET /web/{file} (its bundle) and GET /v1/payment/info. */
export function webRoutes(router: Router, config: GatewayConfig, opts: WebRouteOptions): void {
  const dir = opts.dir ?? webDistDir();
  const csp = contentSecurityPolicy(config);

  const sendFile = async (ctx: Context, name: string): Promise<void> => {
    const ext = name.slice(name.lastIndexOf('.'));
    const type = TYPES[ext];
    if (!type) return;
    let body: Buffer;
    try {
      body = await readFile(join(dir, name));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      if (name !== 'index.html') return; // a 404 from the error handler
      ctx.status = 503;
      ctx.type = 'text/plain';
      ctx.body = 'The chat page is not built: run `npm run build` (it writes dist/web).\n';
      return;
    }
    ctx.type = type;
    ctx.set('Cache-Control', 'no-cache');
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Referrer-Policy', 'no-referrer');
    if (ext === '.html') ctx.set('Content-Security-Policy', csp);
    ctx.body = body;
  };

  router.get('/', (ctx) => sendFile(ctx, 'index.html'));
  router.get('/favicon.ico', (ctx) => sendFile(ctx, 'favicon.svg')); // browsers that ignore <link rel="icon">
  router.get('/web/:file', async (ctx) => {
    const file = ctx.params.file ?? '';
    if (ASSET.test(file) && file !== 'index.html') await sendFile(ctx, file);
  });
  router.get('/v1/payment/info', (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = paymentInfo(config, opts.paymentRequired);
  });
}
