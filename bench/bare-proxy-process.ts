// A bare http-proxy passthrough in its own process: the floor a Node reverse proxy costs, for
// side-by-side comparison with the gateway. No parsing, no routing, no plugins: http-proxy with
// a keep-alive agent in front of one backend.
//
//   node --import tsx bench/bare-proxy-process.ts '{"target":"http://127.0.0.1:8000"}'
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import httpProxy from 'http-proxy';
import { runChild } from './lib/child-main.js';

runChild('bare-proxy', async () => {
  const { target } = JSON.parse(process.argv[2] ?? '{}') as { target: string };
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1024, scheduling: 'lifo' });
  const proxy = httpProxy.createProxyServer({ target, agent });
  proxy.on('error', (_err, _req, res) => {
    if (res instanceof http.ServerResponse && !res.headersSent) res.writeHead(502).end();
    else res.destroy();
  });
  const server = http.createServer({ keepAliveTimeout: 5000 }, (req, res) => proxy.web(req, res));
  server.on('connection', (s) => s.setNoDelay(true));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
        agent.destroy();
      }),
  };
});
