import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const CLIENT = join(ROOT, 'src', 'client');
/** What the client may import: its own files, the pure pricing formula, and these packages. */
const PACKAGES = ['@cashu/cashu-ts', '@noble/hashes/sha2.js', '@scure/bip39', '@scure/bip39/wordlists/english.js', 'proper-lockfile'];
/** The only module that touches Node built-ins (loaded only when a file is named). */
const NODE_ONLY = 'file-store.ts';

const importsOf = (file: string): string[] => [...readFileSync(file, 'utf8').matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+'([^']+)'|import\('([^']+)'\)/gm)].map((m) => (m[1] ?? m[2])!);

describe('owlrun-gateway/client, the package export', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string>; exports: Record<string, unknown> };

  it('exports ["./client"] resolve to compiled JavaScript (and types); the gateway stays the bin and "."', () => {
    assert.deepEqual(pkg.exports['./client'], { types: './dist/src/client/index.d.ts', default: './dist/src/client/index.js' });
    assert.equal(pkg.exports['.'], './dist/src/main.js');
    assert.equal(pkg.bin.owlrun, 'dist/src/main.js');
  });

  it('imports no gateway code: its own files, the pure price formula, wallet packages; Node built-ins in the file store only', () => {
    for (const name of readdirSync(CLIENT).filter((f) => f.endsWith('.ts'))) {
      for (const spec of importsOf(join(CLIENT, name))) {
        if (spec.startsWith('./')) continue;
        if (spec === '../billing/price.js') continue;
        if (spec.startsWith('node:')) {
          assert.equal(name, NODE_ONLY, `${name} imports ${spec}`);
          continue;
        }
        assert.ok(PACKAGES.includes(spec), `${name} imports ${spec}`);
      }
    }
    const price = readFileSync(join(ROOT, 'src', 'billing', 'price.ts'), 'utf8');
    assert.deepEqual(importsOf(join(ROOT, 'src', 'billing', 'price.ts')), ['../config/types.js']);
    assert.match(price, /^import type /m, 'price.ts imports types only (erased when compiled)');
  });

  it('bundles for a browser (platform "browser": no Node built-in, no file store, no lock library)', async function () {
    this.timeout(60_000);
    const { build } = await import('esbuild');
    const out = await build({ entryPoints: [join(CLIENT, 'index.ts')], bundle: true, platform: 'browser', format: 'esm', write: false, metafile: true, logLevel: 'silent' });
    const inputs = Object.keys(out.metafile.inputs);
    assert.ok(inputs.some((f) => f.endsWith('src/client/wallet.ts')));
    assert.ok(!inputs.some((f) => f.includes('file-store') || f.includes('proper-lockfile') || f.includes('graceful-fs')), inputs.join('\n'));
  });

  it('resolves by its package name after `npm run build`', async () => {
    assert.ok(existsSync(join(ROOT, 'dist', 'src', 'client', 'index.js')), 'dist/src/client/index.js is missing: run `npm run build`');
    assert.ok(existsSync(join(ROOT, 'dist', 'src', 'client', 'index.d.ts')), 'dist/src/client/index.d.ts is missing: run `npm run build`');
    const spec = 'owlrun-gateway/client';
    const mod = (await import(spec)) as { openWallet?: unknown };
    assert.equal(typeof mod.openWallet, 'function');
  });
});
