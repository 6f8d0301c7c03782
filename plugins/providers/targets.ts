import type { GatewayConfig } from '../../src/config/types.js';
import { addressClass, endpointKey, localAddresses, portOf, resolveHost, type AddressClass } from '../../src/net/addresses.js';
import type { BackendPool } from '../../src/proxy/pool.js';

// Which URLs a provider may make the gateway call. A URL is judged by every address its host
// resolves to (one bad address refuses it): never loopback, link-local, private or unspecified
// addresses unless nodes.allowPrivateAddresses (unspecified, documentation, multicast and other
// reserved ranges never); never an endpoint the gateway already reaches another way — a
// configured backend, another registered node, the gateway's own listener or dev mint. All
// addresses of this machine (loopback, unspecified, its interfaces) count as one host, so
// `localhost:P`, `127.0.0.1:P`, `[::1]:P` and `0.0.0.0:P` are one endpoint.

/** Why a target was refused: logged for the operator, never told to the provider. */
export class TargetRefused extends Error {
  override readonly name = 'TargetRefused';
}

/** The endpoint the registration request arrived on (the gateway's own listener). */
export interface Listener {
  address?: string;
  port: number;
}

const ALLOWED_WITH_PRIVATE: ReadonlySet<AddressClass> = new Set(['public', 'loopback', 'private', 'link-local']);
const UNSPECIFIED_HOSTS = new Set(['', '0.0.0.0', '::', '[::]']);

export type Resolver = (host: string, timeoutMs: number) => Promise<string[]>;

export class TargetGuard {
  constructor(
    private readonly d: { pool: BackendPool; config: GatewayConfig & { nodes: { allowPrivateAddresses: boolean } }; timeoutMs: number; resolve?: Resolver },
  ) {}

  private resolve(host: string): Promise<string[]> {
    return (this.d.resolve ?? resolveHost)(host, this.d.timeoutMs);
  }

  /** The addresses `url`'s host resolves to, when each may be called; throws TargetRefused. */
  async addressesOf(url: string): Promise<string[]> {
    const u = new URL(url);
    let addresses: string[];
    try {
      addresses = await this.resolve(u.hostname);
    } catch (err) {
      throw new TargetRefused(`does not resolve: ${(err as Error).message}`);
    }
    const allowed = this.d.config.nodes.allowPrivateAddresses ? ALLOWED_WITH_PRIVATE : new Set<AddressClass>(['public']);
    for (const a of addresses) {
      const c = addressClass(a);
      if (!allowed.has(c)) throw new TargetRefused(`${a} is ${c}`);
    }
    return addresses;
  }

  /**
   * Throws TargetRefused when one of `addresses` on `url`'s port is an endpoint the gateway
   * already reaches: a configured backend, another node (ids other than `selfId`), the
   * gateway's listener or its dev mint.
   */
  async assertFree(url: string, addresses: readonly string[], selfId: string, listener?: Listener): Promise<void> {
    const port = portOf(new URL(url));
    const local = new Set(localAddresses());
    const key = (a: string, p: number) => endpointKey(local.has(a) || addressClass(a) === 'loopback' || addressClass(a) === 'unspecified' ? 'this-host' : a, p);
    const wanted = new Set(addresses.map((a) => key(a, port)));
    const taken = new Map<string, string>();
    const add = (a: string, p: number, what: string) => taken.set(key(a, p), what);

    const { config } = this.d;
    if (listener) {
      add(listener.address ?? '127.0.0.1', listener.port, 'the gateway itself');
      for (const a of await this.hostAddresses(config.server.host)) add(a, listener.port, 'the gateway itself');
    }
    if (config.devMint.enabled) for (const a of await this.hostAddresses(config.devMint.host)) add(a, config.devMint.port, "the gateway's dev mint");
    await Promise.all(
      this.d.pool.all().filter((n) => n.id !== selfId).map(async (n) => {
        let u: URL;
        try {
          u = new URL(n.url);
        } catch {
          return; // not an HTTP node (another transport)
        }
        if (u.protocol !== 'http:' && u.protocol !== 'https:') return;
        const what = n.source === 'config' ? `configured backend ${n.id}` : `node ${n.id}`;
        for (const a of n.pin ?? (await this.hostAddresses(u.hostname))) add(a, portOf(u), what);
      }),
    );
    for (const k of wanted) {
      const what = taken.get(k);
      if (what) throw new TargetRefused(`${k.replace(' ', ':')} is ${what}`);
    }
  }

  /** A listening host's addresses: every local one for an unspecified host; none when it does not resolve. */
  private async hostAddresses(host: string): Promise<string[]> {
    if (UNSPECIFIED_HOSTS.has(host)) return localAddresses();
    return this.resolve(host).catch(() => []);
  }
}
