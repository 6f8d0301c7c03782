import type { ServerResponse } from 'node:http';
import { errorBody, GatewayError, type ErrorCode } from '../errors.js';

/** Writes a complete JSON response on a raw response the caller owns (ctx.respond = false). */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) {
    if (!res.writableEnded) res.end();
    return;
  }
  const text = Buffer.from(JSON.stringify(body));
  // Names lower-cased: MUST send a header given in several letter cases once (the last wins),
  // as setHeader would; on the direct path nothing is set before this writeHead.
  const out: Record<string, string> = {};
  for (const k in headers) out[k.toLowerCase()] = headers[k]!;
  out['content-type'] = 'application/json';
  out['content-length'] = String(text.length);
  res.writeHead(status, out);
  res.end(text);
}

export function sendError(res: ServerResponse, code: ErrorCode | GatewayError, headers: Record<string, string> = {}, message?: string): void {
  const err = code instanceof GatewayError ? code : new GatewayError(code, message);
  sendJson(res, err.status, err.toBody(), { ...err.headers, ...headers });
}

export { errorBody };
