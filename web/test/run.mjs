// Runs the dashboard's unit tests: node web/test/run.mjs [NAME.test.ts ...]
// Each web/test/*.test.ts is bundled by esbuild (TypeScript to one ES module, the modules of
// web/src/lib it imports inside) into a temporary directory, then `node --test` runs them all.
// Exits with node's status: non-zero when a test fails or a file does not build.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2).map((f) => basename(f));
const files = readdirSync(here)
  .filter((f) => f.endsWith('.test.ts') && (wanted.length === 0 || wanted.includes(f)))
  .sort();
if (files.length === 0) {
  console.error(`no test files in ${here}` + (wanted.length ? ` matching ${wanted.join(', ')}` : ''));
  process.exit(2);
}
const out = mkdtempSync(join(tmpdir(), 'labbook-web-test-'));
let status = 1;
try {
  await build({
    entryPoints: files.map((f) => join(here, f)),
    outdir: out,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: ['node18'],
    sourcemap: 'inline',
    logLevel: 'warning',
  });
  const bundles = files.map((f) => join(out, f.replace(/\.ts$/, '.mjs')));
  const run = spawnSync(process.execPath, ['--enable-source-maps', '--test', ...bundles], { stdio: 'inherit' });
  status = run.status ?? 1;
} catch {
  status = 1;  // esbuild has printed file:line:column and the message
} finally {
  rmSync(out, { recursive: true, force: true });
}
process.exit(status);
