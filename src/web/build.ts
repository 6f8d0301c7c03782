import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { webDistDir, webSourceDir } from './paths.js';

// Builds the chat page (src/web/client) into dist/web: app.js (main.ts, cashu-ts, qrcode, bip39,
// bc-ur bundled for the browser), app.css, index.html and favicon.svg. Run by `npm run build` (and so by `npm
// install`, through `prepare`); the browser tests call buildWeb() so they test today's source.

/** Copied as they are. */
const STATIC_FILES = ['index.html', 'favicon.svg'];

export interface WebBuildResult {
  outDir: string;
  files: string[];
}

export async function buildWeb(opts: { outDir?: string; minify?: boolean } = {}): Promise<WebBuildResult> {
  const src = webSourceDir();
  const outDir = opts.outDir ?? webDistDir();
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  await build({
    // main.ts imports styles.css: esbuild writes it next to app.js as app.css.
    entryPoints: { app: join(src, 'main.ts') },
    outdir: outDir,
    entryNames: '[name]',
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022', 'chrome109', 'firefox115', 'safari16'],
    minify: opts.minify ?? true,
    sourcemap: 'linked',
    legalComments: 'none',
    logLevel: 'warning',
    // qrcode's Node entry (PNG files, terminal output) is replaced by its browser entry by the
    // package's "browser" field; nothing else in the bundle may reach for Node built-ins.
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  for (const file of STATIC_FILES) await writeFile(join(outDir, file), await readFile(join(src, file)));
  return { outDir, files: [...STATIC_FILES, 'app.js', 'app.js.map', 'app.css', 'app.css.map'] };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { outDir } = await buildWeb();
  process.stdout.write(`chat page built into ${outDir}\n`);
}
