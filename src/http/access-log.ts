import { randomUUID } from 'node:crypto';
import type Koa from 'koa';

// One access-log line per request: method, path, status, model, cost, duration, request id.
// MUST never hold a token, receipt or key: no headers, no body, and the path without its query
// string (a node agent's key rides in its URL's query).
//
// Each line is built as one string (AccessLog batches held lines into one write): the same JSON a pino
// logger at level info with no base fields wrote (`{"level":30,"time":…,fields…,"msg":"request"}`),
// without a logger's per-call object walk and redaction pass (nothing secret is ever put in it).

/** Where access-log lines go: each write is one or more complete lines, each ending in "\n" (e.g. a pino destination, a Writable). */
export interface AccessSink {
  write(line: string): unknown;
}

/** Longest an access-log line waits for the write that carries it. */
export const ACCESS_LOG_FLUSH_MS = 50;
/** Bytes of lines held at most: a full buffer is written at once. */
const HELD_BYTES = 64 * 1024;

/**
 * The gateway's access-log writer: lines are held for at most ACCESS_LOG_FLUSH_MS (or until 64 KiB
 * are held) and reach the sink in ONE write (under load, one write for many requests; a stream
 * ending alone no longer pays a write of its own). `flush()` writes what is held at once
 * (shutdown). A crash loses at most the last ACCESS_LOG_FLUSH_MS of lines.
 *
 * Held lines MUST live outside the JS heap (copied into one Buffer as they come): held as a
 * growing string, 50 ms of lines under load outlived young-generation GCs (each scavenge copied
 * them, those held across two were promoted) and were flattened from a tree of pieces at every
 * write.
 */
export class AccessLog implements AccessSink {
  private readonly held = Buffer.allocUnsafe(HELD_BYTES);
  private used = 0;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly sink: AccessSink,
    private readonly flushMs: number = ACCESS_LOG_FLUSH_MS,
  ) {}

  write(line: string): void {
    const room = HELD_BYTES - this.used;
    // A UTF-16 unit is at most 3 UTF-8 bytes: the exact size is measured only when it may not fit.
    if (line.length * 3 > room) {
      const bytes = Buffer.byteLength(line);
      if (bytes > room) {
        this.flush();
        if (bytes > HELD_BYTES) return void this.sink.write(line);
      }
    }
    this.used += this.held.write(line, this.used);
    if (this.used === HELD_BYTES) return this.flush();
    if (this.timer) return;
    this.timer = setTimeout(this.flush, this.flushMs);
    this.timer.unref();
  }

  readonly flush = (): void => {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.used === 0) return;
    const out = this.held.toString('utf8', 0, this.used);
    this.used = 0;
    this.sink.write(out);
  };
}

/** What the job runner adds to its request's line. */
export interface AccessNote {
  model?: string;
  costSats?: number;
  job?: string;
}

export interface AccessEntry extends AccessNote {
  method: string;
  path: string;
  status: number;
  durationMs: number;
  requestId: string;
}

/** Characters a JSON string must escape (lone surrogates included: JSON.stringify escapes them). */
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** `s` as a JSON string: JSON.stringify's output, without its call for the usual plain value (an id, a route). */
const quote = (s: string): string => (NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`);

/** The JSON line of one request (fields left undefined are left out). */
export function accessLine(e: AccessEntry, now: number = Date.now()): string {
  let line = `{"level":30,"time":${now},"method":${quote(e.method)},"path":${quote(e.path)},"status":${e.status}`;
  if (e.model !== undefined) line += `,"model":${quote(e.model)}`;
  if (e.costSats !== undefined) line += `,"cost_sats":${JSON.stringify(e.costSats)}`;
  line += `,"duration_ms":${Math.round(e.durationMs)},"request_id":${quote(e.requestId)}`;
  if (e.job !== undefined) line += `,"job":${quote(e.job)}`;
  return `${line},"msg":"request"}\n`;
}

/** The request id every response carries (X-Request-Id) and its access-log line names. */
export const newRequestId = (): string => randomUUID();

/**
 * The path as logged: the route's pattern when a route matched (`/v1/change/:receipt`, never the
 * receipt), else the raw path with every long segment (a token or key pasted by mistake) elided.
 */
export function loggedPath(ctx: Koa.Context): string {
  const matched = (ctx as unknown as { _matchedRoute?: unknown })._matchedRoute;
  if (typeof matched === 'string') return matched;
  return ctx.path.split('/').map((seg) => (seg.length > 32 ? '…' : seg)).join('/').slice(0, 200);
}

/**
 * The Koa middleware: sets X-Request-Id and writes the line once the request was handled (an
 * inference job: settled). A handler adds its AccessNote as `ctx.state.access`.
 */
export function accessLog(sink: AccessSink | undefined): Koa.Middleware {
  return async (ctx, next) => {
    const id = newRequestId();
    const started = performance.now();
    ctx.set('X-Request-Id', id);
    try {
      await next();
    } finally {
      if (sink) {
        const n = (ctx.state as { access?: AccessNote }).access;
        sink.write(
          accessLine({
            method: ctx.method,
            path: loggedPath(ctx),
            status: ctx.respond === false ? ctx.res.statusCode : ctx.status,
            model: n?.model,
            costSats: n?.costSats,
            durationMs: performance.now() - started,
            requestId: id,
            job: n?.job,
          }),
        );
      }
    }
  };
}
