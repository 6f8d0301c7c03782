// Mint URLs compared as the same mint must normalize to the same string.

/**
 * Canonical form of a mint URL: scheme and host lower-cased (URL does this), default port
 * dropped, no trailing slashes, path case kept. Throws TypeError on a non-http(s) URL.
 */
export function normalizeMintUrl(url: string): string {
  const u = new URL(url.trim());
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new TypeError(`mint URL must be http(s): ${url}`);
  if (u.username || u.password || u.search || u.hash) throw new TypeError(`mint URL must not carry credentials, query or fragment: ${url}`);
  return `${u.protocol}//${u.host}${u.pathname}`.replace(/\/+$/, '');
}

/** normalizeMintUrl, or null for something that is not a mint URL at all. */
export function tryNormalizeMintUrl(url: string): string | null {
  try {
    return normalizeMintUrl(url);
  } catch {
    return null;
  }
}
