// Bundles the dashboard: node web/build.mjs OUTDIR [--dev]
// Writes OUTDIR/index.html and OUTDIR/assets/app.{js,css}: one script and one stylesheet, with
// preact and uPlot inside, so the page needs nothing from the internet. Without --dev the
// output is minified and has no source map; the same sources always give the same bytes.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = process.argv[2];
if (!out) {
  console.error('usage: node web/build.mjs OUTDIR [--dev]');
  process.exit(2);
}
const dev = process.argv.includes('--dev');
mkdirSync(join(out, 'assets'), { recursive: true });
try {
  await build({
    entryPoints: { app: join(here, 'src/main.tsx') },
    outdir: join(out, 'assets'),
    bundle: true,
    format: 'iife',
    target: ['es2020'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    minify: !dev,
    sourcemap: dev ? 'inline' : false,
    legalComments: 'none',
    logLevel: 'warning',
    define: { 'process.env.NODE_ENV': dev ? '"development"' : '"production"' },
  });
} catch {
  process.exit(1);  // esbuild has printed file:line:column and the message
}
copyFileSync(join(here, 'index.html'), join(out, 'index.html'));
