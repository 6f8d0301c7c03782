import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { baseHeaders } from '../../../src/http/cors.js';
import { sendJson } from '../../../src/http/respond.js';

/** The raw response headers (name, value pairs as sent) of one answer written by `answer`. */
async function rawHeadersOf(answer: (res: http.ServerResponse) => void): Promise<[string, string][]> {
  const server = http.createServer((_req, res) => answer(res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    return await new Promise((resolve, reject) => {
      http.get(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, (res) => {
        res.resume();
        const pairs: [string, string][] = [];
        for (let i = 0; i < res.rawHeaders.length; i += 2) pairs.push([res.rawHeaders[i]!, res.rawHeaders[i + 1]!]);
        res.on('end', () => resolve(pairs));
      }).on('error', reject);
    });
  } finally {
    server.close();
  }
}

function named(pairs: [string, string][], name: string): string[] {
  return pairs.filter(([k]) => k.toLowerCase() === name).map(([, v]) => v);
}

// On the direct inference path the request id and CORS headers are the job's first response
// headers (lower case) and nothing is set on the response before writeHead: headers that
// plugins add in another letter case MUST still reach the client once, the last one given
// winning (as setHeader would have it).
describe('http/respond', () => {
  it('sendJson sends a header given in several letter cases once, the last value given', async () => {
    const headers: Record<string, string> = baseHeaders('req-1', 'https://agent.example');
    headers['Vary'] = 'Origin, Authorization';
    headers['X-Request-Id'] = 'req-2';
    const pairs = await rawHeadersOf((res) => sendJson(res, 402, { error: 'x' }, { ...headers, 'Content-Type': 'application/problem+json' }));
    assert.deepEqual(named(pairs, 'vary'), ['Origin, Authorization']);
    assert.deepEqual(named(pairs, 'x-request-id'), ['req-2']);
    assert.deepEqual(named(pairs, 'content-type'), ['application/json'], 'the body is JSON');
    assert.deepEqual(named(pairs, 'access-control-allow-origin'), ['https://agent.example']);
  });
});
