// Compiles the project (src, plugins, test/helpers, bench) to JavaScript in a temporary
// directory and prints its path, for `npm run bench -- --js-root DIR`: patch a .js file there to
// measure a change to the gateway without touching the working tree. Remove DIR when done.
//
//   node --import tsx bench/compile-tree.ts
import { compileProject } from './lib/compile.js';

const c = await compileProject();
process.stdout.write(`${c.root}\n`);
