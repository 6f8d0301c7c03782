import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The package root: the nearest folder above this file holding package.json. The same whether
 * this runs as src/web/*.ts (tsx, tests) or as dist/src/web/*.js (the built gateway).
 */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('package.json not found above src/web');
    dir = up;
  }
}

/** Where `npm run build` writes the chat page's bundle. */
export function webDistDir(): string {
  return resolve(packageRoot(), 'dist', 'web');
}

/** The page's sources (index.html, styles.css, main.ts and its modules). */
export function webSourceDir(): string {
  return resolve(packageRoot(), 'src', 'web', 'client');
}
