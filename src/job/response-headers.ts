import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { StreamFormat } from '../stream/event.js';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'trailer', 'upgrade', 'proxy-authenticate', 'te']);

/** Framing of a successful backend response, from its content type. */
export function streamFormatOf(contentType: string | undefined): StreamFormat {
  const ct = (contentType ?? '').toLowerCase();
  if (ct.startsWith('text/event-stream')) return 'sse';
  if (ct.startsWith('application/x-ndjson') || ct.startsWith('application/jsonl')) return 'ndjson';
  return 'json';
}

/** The backend's response headers as the client gets them: hop-by-hop removed, the gateway's added. */
export function responseHeaders(backend: IncomingHttpHeaders, added: Record<string, string>, streaming: boolean, length?: number): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const k in backend) {
    const v = backend[k];
    if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
  }
  for (const k in added) out[k.toLowerCase()] = added[k]!;
  if (streaming) {
    out['cache-control'] ??= 'no-cache';
    out['x-accel-buffering'] = 'no';
  } else if (length !== undefined) {
    out['content-length'] = String(length);
  }
  return out;
}
