import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Forwarder } from '../../src/proxy/forward.js';
import type { BackendNode } from '../../src/proxy/node.js';

/**
 * Sends one client POST (body `{}`) to a front server that hands it to `forwarder.send(node, …)`
 * with the forwarder's own outgoing headers, and returns the node's answer text (the error
 * message with a 502 when the forwarder could not reach it).
 */
export async function throughForwarder(forwarder: Forwarder, node: BackendNode, pathAndQuery: string, headers: Record<string, string> = {}): Promise<string> {
  const front = http.createServer((req, res) => {
    forwarder.send(node, req, res, forwarder.outgoingHeaders(req.headers, node, 2), Buffer.from('{}')).then(
      (up) => up.response.pipe(res),
      (err: Error) => res.writeHead(502).end(err.message),
    );
  });
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  try {
    const res = await fetch(`http://127.0.0.1:${(front.address() as AddressInfo).port}${pathAndQuery}`, { method: 'POST', body: '{}', headers });
    return await res.text();
  } finally {
    await new Promise<void>((r) => front.close(() => r()));
  }
}
