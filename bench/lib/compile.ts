// Ahead-of-time TypeScript → JavaScript for the child processes, so the gateway runs as it does
// in production (plain node on compiled JS). Under `--import tsx` every process carries a module
// loader thread (~35 MB RSS) and transpiles on the fly; that would be charged to the gateway.
// esbuild (tsx's own transpiler) emits each file as is (no bundling) into a temporary directory
// whose node_modules is a link to the project's.
import { mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DIRS = ['src', 'plugins', 'test/helpers', 'bench'];

export interface Compiled {
  /** Directory mirroring the project (src/, bench/, …) with .js files. */
  root: string;
  remove(): void;
}

export async function compileProject(): Promise<Compiled> {
  const esbuild = await import('esbuild');
  const entryPoints = DIRS.flatMap((d) =>
    readdirSync(join(ROOT, d), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
      .map((f) => join(ROOT, d, f)),
  );
  const out = mkdtempSync(join(tmpdir(), 'owlrun-bench-'));
  try {
    await esbuild.build({
      entryPoints,
      outdir: out,
      outbase: ROOT,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      bundle: false,
      logLevel: 'silent',
    });
    symlinkSync(join(ROOT, 'node_modules'), join(out, 'node_modules'), 'dir');
    writeFileSync(join(out, 'package.json'), '{"type":"module"}\n');
  } catch (err) {
    rmSync(out, { recursive: true, force: true });
    throw err;
  }
  return { root: out, remove: () => rmSync(out, { recursive: true, force: true }) };
}

export interface ChildrenRuntime {
  /** Root of the compiled tree the children run from; undefined = they run under tsx. */
  jsRoot?: string;
  /** For the report: "compiled JS", "JS from DIR", "tsx". */
  description: string;
  /** Removes a tree compiled here (not one given with --js-root). */
  remove(): void;
}

/**
 * Where the children run from: --js-root, else a tree compiled now (removed on SIGINT too),
 * else (--tsx, or compiling failed) the .ts files under tsx.
 */
export async function childrenRuntime(a: { runtime: 'js' | 'tsx'; jsRoot?: string }, log: (line: string) => void): Promise<ChildrenRuntime> {
  if (a.jsRoot) return { jsRoot: a.jsRoot, description: `JS from ${a.jsRoot}`, remove: () => undefined };
  if (a.runtime === 'tsx') return { description: 'tsx', remove: () => undefined };
  let compiled: Compiled;
  try {
    compiled = await compileProject();
  } catch (err) {
    log(`could not compile the children ahead of time (${(err as Error).message.split('\n')[0]}); running them under tsx`);
    return { description: 'tsx', remove: () => undefined };
  }
  process.once('SIGINT', () => {
    compiled.remove();
    process.exit(130);
  });
  return { jsRoot: compiled.root, description: 'compiled JS', remove: () => compiled.remove() };
}
