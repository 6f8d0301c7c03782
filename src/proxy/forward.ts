import http, { type ClientRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { BackendNode } from './node.js';
import type { Upstream } from './transport.js';

export type { Upstream } from './transport.js';
import { pinnedAgent } from './node-http.js';

// Sends one buffered request to one node (node:http with a keep-alive agent) and hands back the
// upstream response as soon as its headers arrive; the caller owns the response body. The body
// is already in memory and the response is read event by event, so a proxying library's passes
// (URL joins, header rewrites, a stream piped per request body) are not needed.

/** Request headers that never reach a backend: hop-by-hop, the payment, the client's key. */
const STRIPPED = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'te', 'trailer', 'upgrade',
  'transfer-encoding', 'content-length', 'expect', 'host',
  'x-cashu', 'authorization',
  // Bodies must arrive uncompressed: the gateway reads every event to meter it.
  'accept-encoding',
]);

/**
 * The only client headers an untrusted node (every provider's node) receives: what inference
 * needs. Never the buyer's cookies, keys, ecash, or anything that identifies the client
 * (Forwarded, X-Forwarded-*, X-Real-IP, Referer, Origin, User-Agent…).
 */
const FOR_UNTRUSTED = new Set(['content-type', 'accept']);

/** The client's path for the node: an untrusted node gets it without the query string (the buyer's, not inference's). */
function pathFor(node: BackendNode, url: string): string {
  if (node.trustUsage) return url;
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/** The connection to a node failed before any response byte arrived. */
export class ConnectError extends Error {
  constructor(override readonly cause: Error) {
    super(cause.message);
    this.name = 'ConnectError';
  }
}

/** Where requests to one base URL go: module, agents, and the path prefix of the URL. */
interface Destination {
  readonly request: typeof http.request;
  readonly host: string;
  /** The Host header node would send: the URL's host (IPv6 in brackets, a default port left out). */
  readonly hostHeader: string;
  readonly port: number;
  readonly prefix: string;
  readonly pooled: http.Agent;
  readonly fresh: http.Agent;
}

export class Forwarder {
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: 1024, scheduling: 'lifo' });
  private readonly httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 1024, scheduling: 'lifo' });
  /** Retries go out on a connection of their own, never on another pooled socket that may be stale too. */
  private readonly freshHttpAgent = new http.Agent({ keepAlive: false });
  private readonly freshHttpsAgent = new https.Agent({ keepAlive: false });
  private readonly destinations = new Map<string, Destination>();

  private destination(base: string): Destination {
    let d = this.destinations.get(base);
    if (!d) {
      const u = new URL(base);
      const secure = u.protocol === 'https:';
      d = {
        request: secure ? https.request : http.request,
        host: u.hostname.replace(/^\[|\]$/g, ''),
        hostHeader: u.host,
        port: Number(u.port) || (secure ? 443 : 80),
        prefix: u.pathname.replace(/\/+$/, ''),
        pooled: secure ? this.httpsAgent : this.httpAgent,
        fresh: secure ? this.freshHttpsAgent : this.freshHttpAgent,
      };
      if (this.destinations.size > 10_000) this.destinations.clear(); // registered nodes come and go
      this.destinations.set(base, d);
    }
    return d;
  }

  /**
   * Outgoing headers, as node's raw [name, value, …] list (node then writes them as they are,
   * without a setHeader pass per header): the client's minus STRIPPED (an untrusted node: only
   * FOR_UNTRUSTED), the Host of the node's URL, the body's length and the node's own key.
   */
  outgoingHeaders(clientHeaders: IncomingHttpHeaders, node: BackendNode, bodyLength: number): string[] {
    const out: string[] = ['host', this.destination(node.url).hostHeader];
    const trusted = node.trustUsage;
    for (const k in clientHeaders) {
      if (trusted ? STRIPPED.has(k) : !FOR_UNTRUSTED.has(k)) continue;
      const v = clientHeaders[k];
      if (typeof v === 'string') out.push(k, v);
      else if (v !== undefined) for (const one of v) out.push(k, one);
    }
    out.push('content-length', String(bodyLength));
    if (node.apiKey) out.push('authorization', `Bearer ${node.apiKey}`);
    return out;
  }

  /**
   * Sends body to node. Resolves when the upstream response headers arrive; rejects with
   * ConnectError when the connection fails before any response byte (the caller may try another
   * node). Any such failure is first retried once on a fresh connection of its own (the body is
   * buffered; nothing reached the client): a pooled socket the backend closed while idle (a race
   * every keep-alive client meets, often on several pooled sockets at once after a burst) or a
   * connection reset under a burst does not fail the node.
   */
  send(node: BackendNode, req: IncomingMessage, res: ServerResponse, headers: string[], body: Buffer): Promise<Upstream> {
    // One promise for both tries (the retry is chained by callback, not by a second promise).
    return new Promise<Upstream>((resolve, reject) => {
      this.sendOnce(node, req, headers, body, false, resolve, (err) => {
        if (res.destroyed) return reject(err);
        try {
          this.sendOnce(node, req, headers, body, true, resolve, reject);
        } catch (thrown) {
          reject(thrown as Error);
        }
      });
    });
  }

  /** One try: `resolve` once the response headers arrive, else `reject` once with a ConnectError. */
  private sendOnce(node: BackendNode, req: IncomingMessage, headers: string[], body: Buffer, fresh: boolean, resolve: (u: Upstream) => void, reject: (err: Error) => void): void {
    const d = this.destination(node.url);
    let settled = false;
    const out: ClientRequest = d.request(
      { host: d.host, port: d.port, method: req.method, path: d.prefix + pathFor(node, req.url ?? '/'), headers, agent: pinnedAgent(node, !fresh) ?? (fresh ? d.fresh : d.pooled) },
      (response) => {
        settled = true;
        resolve({
          response,
          abort: () => {
            response.destroy();
            out.destroy();
          },
        });
      },
    );
    out.setNoDelay(true);
    // After the response began, the relay sees a failure on the response itself.
    out.on('error', (err) => {
      if (settled) return;
      settled = true;
      out.destroy();
      reject(new ConnectError(err));
    });
    out.end(body);
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
    this.freshHttpAgent.destroy();
    this.freshHttpsAgent.destroy();
  }
}
