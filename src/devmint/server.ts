// HTTP face of the development mint on node:http: routing of the NUT REST API under /v1, JSON
// bodies, CORS like Nutshell/CDK (any origin, preflight answered), request counters, the `down`
// knob. Contract: protocol errors are HTTP 400 {"detail","code"}; unknown paths 404 {"detail"};
// bodies over 2 MiB 413. Nothing here logs request or response bodies (they carry money).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { MintError } from './errors.js';

export type Handler = (params: { body: unknown; param: string }) => Promise<unknown> | unknown;

interface Route {
  method: 'GET' | 'POST';
  /** literal path, or a prefix ending in "/" followed by one path parameter */
  path: string;
  param?: boolean;
  handler: Handler;
}

export interface ServerState {
  down: boolean;
  readonly counters: Map<string, number>;
  log(msg: string): void;
}

const MAX_BODY = 2 * 1024 * 1024;

export class Router {
  private readonly routes: Route[] = [];

  get(path: string, handler: Handler): this {
    return this.add('GET', path, handler);
  }
  post(path: string, handler: Handler): this {
    return this.add('POST', path, handler);
  }
  private add(method: Route['method'], path: string, handler: Handler): this {
    const param = path.endsWith('/{}');
    this.routes.push({ method, path: param ? path.slice(0, -2) : path, param, handler });
    return this;
  }

  /** Routes of this path: [route, parameter, counter name]. */
  match(path: string): Array<{ route: Route; param: string; name: string }> {
    const out: Array<{ route: Route; param: string; name: string }> = [];
    for (const r of this.routes) {
      if (!r.param && r.path === path) out.push({ route: r, param: '', name: r.path });
      if (r.param && path.startsWith(r.path) && path.length > r.path.length && !path.slice(r.path.length).includes('/')) {
        out.push({ route: r, param: decodeURIComponent(path.slice(r.path.length)), name: `${r.path}{id}` });
      }
    }
    return out;
  }

  /** The node:http handler. */
  handler(state: ServerState): (req: IncomingMessage, res: ServerResponse) => void {
    return (req, res) => {
      if (state.down) {
        req.socket.destroy();
        return;
      }
      this.serve(state, req, res).catch((err: unknown) => {
        state.log(`[devmint] internal error: ${err instanceof Error ? err.message : String(err)}`);
        if (!res.headersSent) send(res, 500, { detail: 'internal error' });
        else res.destroy();
      });
    };
  }

  private async serve(state: ServerState, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    let path = '/';
    try {
      path = new URL(req.url ?? '/', 'http://devmint').pathname;
    } catch {
      /* keep "/" */
    }
    if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
    let matches: ReturnType<Router['match']>;
    try {
      matches = this.match(path);
    } catch {
      matches = []; // malformed %-escape in the parameter
    }
    const count = (name: string): void => {
      const key = `${method} ${name}`;
      state.counters.set(key, (state.counters.get(key) ?? 0) + 1);
    };
    cors(req, res);
    if (method === 'OPTIONS') {
      count(matches[0]?.name ?? '(unmatched)');
      res.statusCode = 204;
      res.setHeader('Access-Control-Max-Age', '86400');
      res.end();
      return;
    }
    const hit = matches.find((m) => m.route.method === method || (method === 'HEAD' && m.route.method === 'GET'));
    count(hit?.name ?? (matches[0] ? matches[0].name : '(unmatched)'));
    if (!hit) {
      if (matches.length > 0) {
        res.setHeader('Allow', [...new Set(matches.map((m) => m.route.method))].join(', '));
        return send(res, 405, { detail: 'Method Not Allowed' });
      }
      return send(res, 404, { detail: 'Not Found' });
    }
    let parsed: unknown;
    if (hit.route.method === 'POST') {
      const raw = await readBody(req);
      if (raw === undefined) return send(res, 413, { detail: 'request body too large' });
      try {
        parsed = JSON.parse(raw.length ? raw : 'null');
      } catch {
        return send(res, 400, { detail: 'request body is not valid JSON', code: 10000 });
      }
    }
    try {
      send(res, 200, await hit.route.handler({ body: parsed, param: hit.param }));
    } catch (err) {
      if (err instanceof MintError) return send(res, err.status, err.toBody());
      throw err;
    }
  }
}

/** CORS as real mints answer it: any origin, the requested headers, GET/POST. */
function cors(req: IncomingMessage, res: ServerResponse): void {
  res.setHeader('Access-Control-Allow-Origin', '*');
  res.setHeader('Access-Control-Allow-Methods', 'GET, POST, OPTIONS');
  const asked = req.headers['access-control-request-headers'];
  res.setHeader('Access-Control-Allow-Headers', typeof asked === 'string' && asked.length < 1000 ? asked : '*');
  if (req.headers['access-control-request-private-network'] === 'true') {
    res.setHeader('Access-Control-Allow-Private-Network', 'true');
  }
}

function send(res: ServerResponse, status: number, payload: unknown): void {
  const text = JSON.stringify(payload);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.setHeader('Cache-Control', 'no-store');
  res.end(text);
}

/** The body as UTF-8, or undefined beyond MAX_BODY. */
function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) over = true;
      else if (!over) chunks.push(c);
    });
    req.on('end', () => resolve(over ? undefined : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
