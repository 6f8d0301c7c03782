import type { IncomingMessage } from 'node:http';
import { GatewayError } from '../errors.js';

/** Bodies already read, so that two handlers of one route (told apart by the body's shape) can both read it. */
const bodies = new WeakMap<IncomingMessage, Promise<Buffer>>();

/**
 * Reads the whole request body; past `limit` bytes → 413 (body_too_large) without reading
 * further. A second read of the same request returns the same body (still within `limit`).
 */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  let read = bodies.get(req);
  if (!read) bodies.set(req, (read = readWholeBody(req, limit)));
  const body = await read;
  if (body.length > limit) throw new GatewayError('body_too_large');
  return body;
}

/**
 * Reads the whole request body once, for a handler that is the request's only reader (an
 * inference job); past `limit` bytes → 413 (body_too_large) without reading further.
 */
export function readWholeBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(new GatewayError('body_too_large'));
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        req.resume();
        reject(new GatewayError('body_too_large'));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

/** Parses a JSON object body; anything else → 400 invalid_json. */
export function parseJsonObject(raw: Buffer): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new GatewayError('invalid_json');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new GatewayError('invalid_json', 'request body must be a JSON object');
  }
  return value as Record<string, unknown>;
}
