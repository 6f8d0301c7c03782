import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Replay {
  status?: number;
  headers: Record<string, string>;
  body: Buffer;
  /** Write the body in pieces of these sizes (cycled), to exercise framing across reads. */
  chunkSizes?: number[];
  /** Destroy the socket after writing this many body bytes. */
  dieAfterBytes?: number;
}

export interface ReplayServer {
  url: string;
  /** Request bodies and headers the server received. */
  seen: { path: string; headers: http.IncomingHttpHeaders; body: string }[];
  set(path: string, replay: Replay): void;
  close(): Promise<void>;
}

/** A backend that answers each path with fixed bytes: for byte-identity tests against real transcripts. */
export async function startReplayServer(models: Record<string, unknown> = { object: 'list', data: [{ id: 'replay', object: 'model' }] }): Promise<ReplayServer> {
  const routes = new Map<string, Replay>();
  const seen: ReplayServer['seen'] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const path = req.url ?? '/';
      if (req.method === 'GET' && (path === '/v1/models' || path === '/api/tags')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify(path === '/api/tags' ? { models: [{ name: 'replay' }] } : models));
      }
      seen.push({ path, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      const r = routes.get(path);
      if (!r) {
        res.writeHead(404, { 'content-type': 'application/json' });
        return res.end('{"error":"no replay"}');
      }
      res.writeHead(r.status ?? 200, r.headers);
      const sizes = r.chunkSizes ?? [r.body.length || 1];
      let off = 0;
      let i = 0;
      while (off < r.body.length) {
        const n = sizes[i++ % sizes.length]!;
        const end = Math.min(off + n, r.body.length);
        if (r.dieAfterBytes !== undefined && end > r.dieAfterBytes) {
          res.write(r.body.subarray(off, r.dieAfterBytes));
          await new Promise((d) => setTimeout(d, 20));
          return res.socket?.destroy();
        }
        res.write(r.body.subarray(off, end));
        off = end;
        if (sizes.length > 1) await new Promise((d) => setImmediate(d));
      }
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    set: (path, replay) => routes.set(path, replay),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
