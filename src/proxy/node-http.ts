import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import type { BackendNode } from './node.js';

// Every connection the gateway opens to a node goes through an agent from here: a registered
// node's only to the addresses its registration checked (a name that later resolves elsewhere —
// DNS rebinding — changes nothing), with its URL's Host header and TLS name. Redirects are
// never followed (node:http does not), and answers read here are bounded.

/** A lookup that answers only the given addresses, whatever name is asked. */
export function pinnedLookup(addresses: readonly string[]): LookupFunction {
  const all = addresses.map((address) => ({ address, family: isIP(address) }));
  return ((_host: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    if (options?.all) callback(null, all);
    else callback(null, all[0]!.address, all[0]!.family);
  }) as LookupFunction;
}

interface Pinned {
  key: string;
  agent: http.Agent;
}
const pinned = new WeakMap<BackendNode, Pinned>();

/**
 * The keep-alive agent for a pinned node (one per node and address set), or undefined for a
 * node that resolves normally (the operator's configured backends).
 */
export function pinnedAgent(node: BackendNode, keepAlive = true): http.Agent | undefined {
  const pin = node.pin;
  if (!pin || pin.length === 0) return undefined;
  const secure = node.url.startsWith('https:');
  const make = () => {
    const opts = { keepAlive, maxSockets: 1024, scheduling: 'lifo' as const, lookup: pinnedLookup(pin) };
    return secure ? new https.Agent(opts) : new http.Agent(opts);
  };
  if (!keepAlive) return make();
  const key = `${secure} ${pin.join(',')}`;
  const cached = pinned.get(node);
  if (cached?.key === key) return cached.agent;
  cached?.agent.destroy();
  const agent = make();
  pinned.set(node, { key, agent });
  return agent;
}

/** Closes the pinned keep-alive connections of a node that left. */
export function releaseNode(node: BackendNode): void {
  pinned.get(node)?.agent.destroy();
  pinned.delete(node);
}

/** Largest answer a health or load read accepts from a node. */
export const MAX_PROBE_BYTES = 4 * 1024 * 1024;
const NULL_BODY = new Set([101, 204, 205, 304]);

/**
 * GET `path` on the node (pinned when it is), as a fetch Response, body read whole. Rejects on
 * a connection failure, a timeout, or an answer over MAX_PROBE_BYTES; a redirect is just its
 * 3xx status.
 */
export function nodeGet(node: BackendNode, path: string, opts: { headers?: Record<string, string>; timeoutMs: number }): Promise<Response> {
  const url = new URL(node.url + path);
  const client = url.protocol === 'https:' ? https : http;
  return new Promise<Response>((resolve, reject) => {
    const req = client.get(url, { headers: opts.headers, agent: pinnedAgent(node), timeout: opts.timeoutMs }, (res) => {
      const parts: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_PROBE_BYTES) req.destroy(new Error(`answer over ${MAX_PROBE_BYTES} bytes`));
        else parts.push(c);
      });
      res.once('end', () => {
        clearTimeout(deadline);
        const status = res.statusCode ?? 0;
        if (status < 200 || status > 599) return reject(new Error(`status ${status}`));
        resolve(new Response(NULL_BODY.has(status) ? null : Buffer.concat(parts), { status }));
      });
      res.once('error', fail);
    });
    const fail = (err: Error) => {
      clearTimeout(deadline);
      reject(err);
    };
    // The whole exchange, not only idle time, is bounded: a node dripping bytes is cut too.
    const deadline = setTimeout(() => req.destroy(new Error(`no answer within ${opts.timeoutMs} ms`)), opts.timeoutMs);
    req.once('timeout', () => req.destroy(new Error(`no answer within ${opts.timeoutMs} ms`)));
    req.once('error', fail);
  });
}
