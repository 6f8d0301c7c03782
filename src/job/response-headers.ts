import type { IncomingHttpHeaders } from 'node:http';
import type { StreamFormat } from '../stream/event.js';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'trailer', 'upgrade', 'proxy-authenticate', 'te']);

/**
 * The only headers of an untrusted node's answer (a provider's node) the client receives: a
 * stranger's node MUST NOT set cookies, redirects, security policies or anything else on the
 * gateway's origin through the buyer's browser.
 */
const FROM_UNTRUSTED = new Set(['content-type']);

/**
 * A backend response's headers: node's raw [name, value, …] list when it has one (an HTTP
 * response, whose header object is then never built: node makes it only when first read), else
 * its header object (a transport's response, an answer the gateway made).
 */
export interface BackendHeaders {
  readonly rawHeaders?: readonly string[];
  readonly headers: IncomingHttpHeaders;
}

/** Framing of a successful backend response, from its content type. */
export function streamFormatOf(contentType: string | undefined): StreamFormat {
  const ct = (contentType ?? '').toLowerCase();
  if (ct.startsWith('text/event-stream')) return 'sse';
  if (ct.startsWith('application/x-ndjson') || ct.startsWith('application/jsonl')) return 'ndjson';
  return 'json';
}

/** The backend's Content-Type (the first one, as node's header object keeps it). */
export function contentTypeOf(backend: BackendHeaders): string | undefined {
  const raw = backend.rawHeaders;
  if (raw === undefined) return backend.headers['content-type'];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 12 && name.toLowerCase() === 'content-type') return raw[i + 1];
  }
  return undefined;
}

/**
 * The backend's response headers as the client gets them, as a [name, value, …] list for
 * writeHead: hop-by-hop removed, the gateway's `added` in place of any the backend sent under
 * the same name (any letter case), a stream's cache headers, a whole body's length; from an
 * `untrusted` node only FROM_UNTRUSTED. Each name MUST appear once (a header the backend repeated, e.g. Set-Cookie, is one name with
 * its values as a list): a response that already has headers set (the Koa path) takes the
 * list through setHeader, where a repeated name would replace the value before it.
 */
export function responseHeaders(backend: BackendHeaders, added: Record<string, string>, streaming: boolean, length?: number, untrusted = false): (string | string[])[] {
  const out: (string | string[])[] = [];
  const addedNames: string[] = [];
  for (const k in added) {
    const name = k.toLowerCase();
    if (HOP_BY_HOP.has(name) || (streaming && name === 'x-accel-buffering')) continue;
    addedNames.push(name);
    out.push(name, added[k]!);
  }
  let cacheControl = false;
  const keep = (name: string): boolean => {
    if (HOP_BY_HOP.has(name) || addedNames.includes(name) || (untrusted && !FROM_UNTRUSTED.has(name))) return false;
    if (!streaming) return true;
    if (name === 'x-accel-buffering') return false;
    if (name === 'cache-control') cacheControl = true;
    return true;
  };
  const raw = backend.rawHeaders;
  if (raw !== undefined) {
    const first = out.length;
    const names: string[] = [];
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!.toLowerCase();
      if (!keep(name)) continue;
      const at = names.indexOf(name);
      if (at === -1) {
        names.push(name);
        out.push(name, raw[i + 1]!);
      } else {
        const v = out[first + 2 * at + 1]!;
        out[first + 2 * at + 1] = typeof v === 'string' ? [v, raw[i + 1]!] : [...v, raw[i + 1]!];
      }
    }
  } else {
    for (const name in backend.headers) {
      const v = backend.headers[name];
      if (v === undefined || !keep(name)) continue;
      out.push(name, v);
    }
  }
  if (streaming) {
    if (!cacheControl && !addedNames.includes('cache-control')) out.push('cache-control', 'no-cache');
    out.push('x-accel-buffering', 'no');
  } else if (length !== undefined) {
    out.push('content-length', String(length));
  }
  return out;
}
