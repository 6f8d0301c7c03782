// Backend simulators: real HTTP servers on 127.0.0.1 that replay the wire formats of Ollama,
// vLLM, llama.cpp server and a generic OpenAI-compatible server, byte for byte as described in
// the wire-format facts in docs/backends.md.
//
//   const sim = await startSimulator({ kind: 'vllm', tokens: 20, tokenDelayMs: 5 });
//   … point the gateway at sim.url, send requests …
//   await sim.waitForRequests(1);
//   assert.equal(sim.requests[0]?.aborted, true);
//   await sim.close();
import http from 'node:http';
import type { Socket } from 'node:net';
import { unixNow } from './format.js';
import { llamacppServer } from './llamacpp.js';
import { ollamaServer } from './ollama.js';
import type { Exchange, KindServer, RecordedRequest, SimKind, SimOptions, Simulator } from './types.js';
import { vllmServer } from './vllm.js';
import { Wire } from './wire.js';

export type { RecordedRequest, SimKind, SimOptions, Simulator } from './types.js';
export { completionText, countPromptTokens, countTextTokens, tokenText } from './text.js';

const SERVERS: Record<SimKind, KindServer> = {
  ollama: ollamaServer,
  vllm: vllmServer,
  llamacpp: llamacppServer,
  openai: vllmServer,
};

/** The model a kind serves when `models` is not given. */
export function defaultModel(kind: SimKind): string {
  return `sim-${kind}`;
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    const done = (): void => resolve(Buffer.concat(parts).toString('utf8'));
    req.on('data', (b: Buffer) => parts.push(b));
    req.once('end', done);
    req.once('error', done);
    req.once('close', done);
  });
}

function parseBody(raw: string): unknown {
  if (raw === '') return '';
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return raw;
  }
}

/** Start a simulator on an ephemeral port of 127.0.0.1. */
export async function startSimulator(opts: SimOptions): Promise<Simulator & { readonly model: string }> {
  const kind = opts.kind;
  const kindServer = SERVERS[kind];
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  const waiters = new Set<() => void>();
  const startedAt = unixNow();
  const notify = (): void => {
    for (const w of [...waiters]) w();
  };

  const serve = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const t0 = process.hrtime.bigint();
    const method = req.method ?? 'GET';
    const path = new URL(req.url ?? '/', 'http://sim').pathname;
    const route = kindServer.route(method, path);
    if (route?.inference && (sim.options.resetConnections ?? 0) > 0) {
      sim.options.resetConnections! -= 1;
      return void req.socket.resetAndDestroy();
    }
    const snapshot: SimOptions = { ...sim.options };
    const models = snapshot.models ?? [defaultModel(kind)];
    const wire = new Wire(res);
    const rec: RecordedRequest = {
      method,
      path,
      headers: req.headers,
      body: '',
      aborted: false,
      tokensSent: 0,
      stream: false,
      died: false,
      done: false,
      status: 0,
    };
    if (route?.inference) {
      requests.push(rec);
      res.once('close', () => {
        rec.died = wire.died;
        rec.aborted = !res.writableFinished && !wire.died;
        rec.done = true;
        notify();
      });
    }
    rec.body = parseBody(await readBody(req));
    if (wire.closed) return;
    const running = (): number => requests.reduce((n, r) => n + (r.done ? 0 : 1), 0);
    const ex: Exchange = { req, res, method, path, body: rec.body, opts: snapshot, models, rec, wire, startedAt, running, t0, tFirst: undefined };
    try {
      if (route) await route.handle(ex);
      else wire.send(kindServer.notFound(ex));
    } catch (err) {
      if (!res.headersSent) wire.send({ status: 500, headers: [['Content-Type', 'text/plain']], body: String(err) });
      else res.destroy();
    }
  };

  // Lenient header limit (Go's 1 MB default) so the simulator never masks the gateway's own limit.
  const server = http.createServer({ noDelay: true, maxHeaderSize: 1 << 20 }, (req, res) => void serve(req, res));
  server.on('connection', (socket: Socket) => {
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;

  const sim = {
    url: `http://127.0.0.1:${port}`,
    kind,
    model: opts.models?.[0] ?? defaultModel(kind),
    requests,
    options: { ...opts, models: opts.models ?? [defaultModel(kind)] },
    waitForRequests(n: number, timeoutMs?: number): Promise<void> {
      const ready = (): boolean => requests.length >= n && requests.slice(0, n).every((r) => r.done);
      if (ready()) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        let timer: NodeJS.Timeout | undefined;
        const check = (): void => {
          if (!ready()) return;
          waiters.delete(check);
          if (timer) clearTimeout(timer);
          resolve();
        };
        waiters.add(check);
        if (timeoutMs !== undefined) {
          timer = setTimeout(() => {
            waiters.delete(check);
            const done = requests.filter((r) => r.done).length;
            reject(new Error(`${kind} simulator: waited ${timeoutMs} ms for ${n} finished requests, have ${done} of ${requests.length}`));
          }, timeoutMs);
        }
      });
    },
    close(): Promise<void> {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
        server.closeAllConnections();
      });
    },
  };
  return sim;
}
