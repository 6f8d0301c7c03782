import assert from 'node:assert/strict';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { ResponseBody } from '../../../src/http/response-body.js';

const PIECES = [Buffer.from('data: {"a":1}\n\n'), Buffer.alloc(0), Buffer.from('x'.repeat(300)), Buffer.from('data: é\n\n')];
const TAIL = Buffer.from('data: [DONE]\n\n');

type Answer = (req: IncomingMessage, res: ServerResponse) => void;

/** A server answering every request with `answer`; returns its port and a closer. */
async function serve(answer: Answer): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer(answer);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** Sends raw requests on ONE connection and returns every byte received until `done` says so or the server closes. */
function exchange(port: number, requests: string, done: (received: string) => boolean): Promise<{ received: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    let received = '';
    const sock = net.connect(port, '127.0.0.1', () => sock.write(requests));
    sock.on('data', (c: Buffer) => {
      received += c.toString('latin1');
      if (done(received)) {
        sock.destroy();
        resolve({ received, closed: false });
      }
    });
    sock.on('end', () => resolve({ received, closed: true }));
    sock.on('error', reject);
  });
}

const GET11 = 'GET / HTTP/1.1\r\nHost: x\r\n\r\n';
const withoutDate = (raw: string) => raw.replace(/^Date: .*\r\n/gm, '');
const count = (s: string, part: string) => s.split(part).length - 1;

/** Writes the pieces and the tail through a ResponseBody made after (or before) writeHead. */
const throughBody =
  (beforeHead = false): Answer =>
  (_req, res) => {
    const early = beforeHead ? new ResponseBody(res) : undefined;
    res.writeHead(200, { 'Content-Type': 'text/event-stream' });
    const body = early ?? new ResponseBody(res);
    for (const p of PIECES) body.write(p);
    body.end(TAIL);
  };

/** The same writes through node's own chunked encoding. */
const throughNode: Answer = (_req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/event-stream' });
  for (const p of PIECES) res.write(p);
  res.end(TAIL);
};

async function rawAnswers(answer: Answer, requests: string, answers: number): Promise<{ received: string; closed: boolean }> {
  const srv = await serve(answer);
  try {
    return await exchange(srv.port, requests, (r) => count(r, '0\r\n\r\n') >= answers);
  } finally {
    await srv.close();
  }
}

describe('ResponseBody', () => {
  it('puts on the wire exactly the chunked encoding node writes, and keeps the connection for the next request', async () => {
    const ours = await rawAnswers(throughBody(), GET11 + GET11, 2);
    const nodes = await rawAnswers(throughNode, GET11 + GET11, 2);
    assert.equal(count(ours.received, 'HTTP/1.1 200 OK'), 2, ours.received);
    assert.equal(ours.closed, false);
    assert.equal(withoutDate(ours.received), withoutDate(nodes.received));
    // Spelled out: each non-empty piece one chunk (hex size), the empty one nothing, the tail, the last chunk.
    const body = ours.received.slice(ours.received.indexOf('\r\n\r\n') + 4);
    assert.ok(body.startsWith(`f\r\ndata: {"a":1}\n\n\r\n12c\r\n${'x'.repeat(300)}\r\n${(10).toString(16)}\r\ndata: \xc3\xa9\n\n\r\ne\r\ndata: [DONE]\n\n\r\n0\r\n\r\n`), body);
  });

  it('ends with the last chunk alone when the tail is empty', async () => {
    const { received } = await rawAnswers(
      (_req, res) => {
        res.writeHead(200);
        const body = new ResponseBody(res);
        body.write(Buffer.from('hi'));
        body.end(Buffer.alloc(0));
      },
      GET11,
      1,
    );
    assert.ok(received.endsWith('\r\n\r\n2\r\nhi\r\n0\r\n\r\n'), received);
  });

  it('leaves the framing to node when made before writeHead (the same bytes)', async () => {
    const early = await rawAnswers(throughBody(true), GET11, 1);
    const nodes = await rawAnswers(throughNode, GET11, 1);
    assert.equal(withoutDate(early.received), withoutDate(nodes.received));
  });

  it('writes the pieces as they are to an HTTP/1.0 client, and the connection closes at the end', async () => {
    const srv = await serve(throughBody());
    try {
      const { received, closed } = await exchange(srv.port, 'GET / HTTP/1.0\r\nHost: x\r\n\r\n', () => false);
      assert.equal(closed, true);
      assert.doesNotMatch(received, /Transfer-Encoding/i);
      assert.equal(received.slice(received.indexOf('\r\n\r\n') + 4), Buffer.concat([...PIECES, TAIL]).toString('latin1'));
    } finally {
      await srv.close();
    }
  });

  it('is read whole by an HTTP client, and reports backpressure like res.write', async () => {
    const big = Buffer.alloc(4 * 1024 * 1024, 0x61);
    let firstWrite: boolean | undefined;
    const srv = await serve((_req, res) => {
      res.writeHead(200);
      const body = new ResponseBody(res);
      firstWrite = body.write(big);
      body.end(TAIL);
    });
    try {
      const text = await new Promise<string>((resolve, reject) => {
        http.get(`http://127.0.0.1:${srv.port}/`, (res) => {
          const parts: Buffer[] = [];
          res.on('data', (c: Buffer) => parts.push(c));
          res.on('end', () => resolve(Buffer.concat(parts).toString('latin1')));
        }).on('error', reject);
      });
      assert.equal(text.length, big.length + TAIL.length);
      assert.ok(text.endsWith('data: [DONE]\n\n'));
      assert.equal(firstWrite, false, 'a 4 MiB write fills the buffer');
    } finally {
      await srv.close();
    }
  });
});
