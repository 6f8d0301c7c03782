import { BlockList, isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { promises as dns } from 'node:dns';

// What an address is, by the address (never its spelling): a URL a stranger hands the gateway
// is judged by every address its host resolves to. IPv4-mapped and IPv4-embedding IPv6 forms
// (::ffff:a.b.c.d, NAT64 64:ff9b::/96, 6to4 2002::/16) are judged as the IPv4 address inside.

export type AddressClass = 'public' | 'loopback' | 'private' | 'link-local' | 'unspecified' | 'reserved';

function list(entries: readonly (readonly [string, number])[]): BlockList {
  const b = new BlockList();
  for (const [net, prefix] of entries) b.addSubnet(net, prefix, isIP(net) === 6 ? 'ipv6' : 'ipv4');
  return b;
}

const UNSPECIFIED = list([['0.0.0.0', 8], ['::', 128]]);
const LOOPBACK = list([['127.0.0.0', 8], ['::1', 128]]);
const LINK_LOCAL = list([['169.254.0.0', 16], ['fe80::', 10]]);
/** RFC 1918, carrier-grade NAT, IETF protocol space, IPv6 unique-local and the old site-local. */
const PRIVATE = list([['10.0.0.0', 8], ['172.16.0.0', 12], ['192.168.0.0', 16], ['100.64.0.0', 10], ['192.0.0.0', 24], ['fc00::', 7], ['fec0::', 10]]);
/** Documentation, benchmarking, multicast, broadcast and future-use ranges; discard-only and Teredo IPv6. */
const RESERVED = list([
  ['192.0.2.0', 24], ['198.18.0.0', 15], ['198.51.100.0', 24], ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
  ['2001:db8::', 32], ['ff00::', 8], ['100::', 64], ['2001::', 32],
]);

/** The IPv4 address an IPv6 address carries (mapped, NAT64, 6to4), else undefined. */
function embeddedIpv4(v6: string): string | undefined {
  const groups = expandIpv6(v6);
  if (!groups) return undefined;
  const v4 = (hi: number, lo: number) => `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  const zero = (from: number, to: number) => groups.slice(from, to).every((g) => g === 0);
  if (zero(0, 5) && groups[5] === 0xffff) return v4(groups[6]!, groups[7]!); // ::ffff:a.b.c.d
  if (groups[0] === 0x64 && groups[1] === 0xff9b && zero(2, 6)) return v4(groups[6]!, groups[7]!); // NAT64
  if (groups[0] === 0x2002) return v4(groups[1]!, groups[2]!); // 6to4
  return undefined;
}

/** The eight 16-bit groups of an IPv6 address (dotted IPv4 tail allowed), or undefined. */
function expandIpv6(v6: string): number[] | undefined {
  let s = v6.toLowerCase();
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (dotted) {
    const [a, b, c, d] = dotted[1]!.split('.').map(Number) as [number, number, number, number];
    s = s.slice(0, -dotted[1]!.length) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = s.split('::') as [string, string | undefined];
  const part = (x: string) => (x === '' ? [] : x.split(':').map((g) => parseInt(g, 16)));
  const h = part(head);
  const t = tail === undefined ? [] : part(tail);
  const groups = tail === undefined ? h : [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  return groups.length === 8 && groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : undefined;
}

/** One spelling per address: IPv4 dotted, IPv6 compressed lower case; an IPv4-mapped IPv6 address as its IPv4. */
export function normalizeAddress(ip: string): string {
  const bare = ip.replace(/^\[|\]$/g, '');
  if (isIP(bare) !== 6) return bare;
  const groups = expandIpv6(bare);
  if (groups && groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) return embeddedIpv4(bare)!;
  return new URL(`http://[${bare}]/`).hostname.slice(1, -1);
}

export function addressClass(ip: string): AddressClass {
  const a = normalizeAddress(ip);
  const family = isIP(a);
  if (family === 0) return 'reserved';
  if (family === 6) {
    const inner = embeddedIpv4(a);
    if (inner !== undefined) {
      const c = addressClass(inner);
      if (c !== 'public') return c;
    }
  }
  const type = family === 6 ? 'ipv6' : 'ipv4';
  if (UNSPECIFIED.check(a, type)) return 'unspecified';
  if (LOOPBACK.check(a, type)) return 'loopback';
  if (LINK_LOCAL.check(a, type)) return 'link-local';
  if (PRIVATE.check(a, type)) return 'private';
  if (RESERVED.check(a, type)) return 'reserved';
  return 'public';
}

/**
 * Every address `host` (a URL's hostname: a name, an IPv4 or a bracketed IPv6 literal)
 * resolves to, normalized and without duplicates. Throws when it resolves to none or takes
 * longer than timeoutMs.
 */
export async function resolveHost(host: string, timeoutMs: number): Promise<string[]> {
  const bare = host.replace(/^\[|\]$/g, '');
  if (isIP(bare)) return [normalizeAddress(bare)];
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`resolving ${host} took over ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    const found = await Promise.race([dns.lookup(bare, { all: true, verbatim: true }), timeout]);
    const out = [...new Set(found.map((r) => normalizeAddress(r.address)))];
    if (out.length === 0) throw new Error(`${host} resolves to no address`);
    return out;
  } finally {
    clearTimeout(timer);
  }
}

/** The addresses of this machine's interfaces (loopback included). */
export function localAddresses(): string[] {
  const out = new Set<string>(['127.0.0.1', '::1']);
  for (const list of Object.values(networkInterfaces())) for (const i of list ?? []) out.add(normalizeAddress(i.address));
  return [...out];
}

/** The default port of an http(s) URL when it names none. */
export function portOf(u: URL): number {
  return u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80;
}

/** "address port": one key per endpoint, whatever the spelling. */
export function endpointKey(address: string, port: number): string {
  return `${normalizeAddress(address)} ${port}`;
}
