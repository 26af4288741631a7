// dashboard_bench: how fast the dashboard is usable on a big project, measured in Debian's
// chromium (playwright-core), against the REST calls the page makes, timed from node in the same
// run (the floor no page can beat).
//
// Seeds a SQLite store with bench/dashboard_seed (--runs x --metrics x --steps; kept in --dir
// and reused when present), serves it with `labbook ui`, then, --repeats times each:
//   (a) runs table: navigation to the first rows drawn, on /projects/bench/bench;
//   (b) overlay: navigation to a chart of one metric of --overlay runs drawn with every run's
//       downsampled series, on /compare.
// Prints the medians, the peer's medians and the targets (1 s each).
//
//   node bench/dashboard_bench.mjs [--labbook build/bin/labbook] [--seed build/bin/dashboard_seed]
//     [--runs 1000] [--metrics 10] [--steps 10000] [--overlay 50] [--repeats 5] [--dir DIR]
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const argv = process.argv.slice(2);
const option = (name, fallback) => {
  const i = argv.indexOf(name);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : fallback;
};
const labbook = option('--labbook', 'build/bin/labbook');
const seed = option('--seed', 'build/bin/dashboard_seed');
const runs = Number(option('--runs', '1000'));
const metrics = Number(option('--metrics', '10'));
const steps = Number(option('--steps', '10000'));
const overlay = Number(option('--overlay', '50'));
const repeats = Number(option('--repeats', '5'));
const dir = option('--dir', join(tmpdir(), `labbook-dashboard-bench-${runs}x${metrics}x${steps}`));
const metric = 'metric/m0';

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};
const ms = (value) => `${value.toFixed(0)} ms`;

function cpuFeatures() {
  const flags = (readFileSync('/proc/cpuinfo', 'utf8').match(/^flags\s*:(.*)$/m) || ['', ''])[1];
  const wanted = ['avx2', 'avx512f', 'avx512_bf16', 'amx_bf16'];
  return wanted.filter((flag) => flags.split(' ').includes(flag)).join(' ') || 'none of avx2/avx512';
}

function seedStore() {
  const store = join(dir, 'labbook.db');
  const idsFile = join(dir, 'run-ids.txt');
  if (existsSync(store) && existsSync(idsFile)) return readFileSync(idsFile, 'utf8').trim().split('\n');
  mkdirSync(dir, { recursive: true });
  const started = Date.now();
  const ids = execFileSync(seed, ['--store', store, '--runs', String(runs), '--metrics',
    String(metrics), '--steps', String(steps)], { maxBuffer: 1 << 26 }).toString();
  writeFileSync(idsFile, ids);
  console.log(`seeded ${runs * metrics * steps} points in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return ids.trim().split('\n');
}

function startUi() {
  return new Promise((resolve, reject) => {
    const ui = spawn(labbook, ['ui', '--port', '0', '--quiet', '--store',
      'sqlite://' + join(dir, 'labbook.db')], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    ui.stdout.on('data', (chunk) => {
      stdout += chunk;
      const match = /(http:\/\/127\.0\.0\.1:\d+)\//.exec(stdout);
      if (match) resolve({ ui, base: match[1] });
    });
    ui.on('exit', (code) => reject(new Error(`labbook ui exited with ${code}`)));
    setTimeout(() => reject(new Error('labbook ui did not start in 30 s')), 30_000);
  });
}

async function timeFetches(urls) {
  const started = performance.now();
  await Promise.all(urls.map(async (url) => {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`${url}: ${response.status}`);
    await response.arrayBuffer();
  }));
  return performance.now() - started;
}

async function main() {
  const ids = seedStore();
  const { ui, base } = await startUi();
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  const deadline = setTimeout(() => { console.error('dashboard_bench: over 600 s'); process.exit(1); },
    600_000);
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    // One warm-up of each page: the server's caches and the browser's compiled script.
    const compareUrl = `${base}/compare?runs=${ids.slice(0, overlay).join(',')}&metric=${encodeURIComponent(metric)}`;
    const table = [];
    const tablePeer = [];
    const chart = [];
    const chartPeer = [];
    for (let i = 0; i <= repeats; ++i) {
      let started = performance.now();
      await page.goto(`${base}/projects/bench/bench`);
      await page.getByTestId('run-row').first().waitFor({ timeout: 60_000 });
      const rows = performance.now() - started;

      let seen = 0;
      const counted = (response) => {
        if (response.url().includes('history') && response.url().includes(encodeURIComponent(metric))) ++seen;
      };
      page.on('response', counted);
      started = performance.now();
      await page.goto(compareUrl);
      await page.waitForFunction(([key, wanted]) => {
        const figure = document.querySelector(`[data-testid="compare-chart"][data-key="${key}"]`);
        const chart = figure && figure.querySelector('[data-testid="chart"]');
        return chart && Number(chart.getAttribute('data-points')) > 0 &&
          Number(figure.getAttribute('data-series')) >= wanted;
      }, [metric, overlay], { timeout: 60_000 });
      const drawn = performance.now() - started;
      page.off('response', counted);
      if (i === 0) {
        console.log(`warm-up: table ${ms(rows)}, overlay ${ms(drawn)} (${seen} history reads of ${metric})`);
        continue;
      }
      table.push(rows);
      chart.push(drawn);
      tablePeer.push(await timeFetches([`${base}/api/v1/runs?entity=bench&project=bench`]));
      chartPeer.push(await timeFetches([`${base}/api/v1/history?runs=${ids.slice(0, overlay).join(',')}` +
        `&key=${encodeURIComponent(metric)}&samples=1000`]));
    }
    console.log(`machine: ${cpus()[0].model}, ${cpus().length} hardware threads, ${cpuFeatures()}`);
    console.log(`project: ${runs} runs x ${metrics} metrics x ${steps} steps; medians of ${repeats}`);
    console.log(`runs table, first rows drawn: ${ms(median(table))} ` +
      `(the runs request alone ${ms(median(tablePeer))}; target 1000 ms)`);
    console.log(`${overlay} runs overlaid on one chart: ${ms(median(chart))} ` +
      `(the one downsampled read of ${overlay} runs alone ${ms(median(chartPeer))}; target 1000 ms)`);
  } finally {
    clearTimeout(deadline);
    await browser.close();
    ui.kill('SIGTERM');
  }
}

main().catch((error) => {
  console.error('dashboard_bench: ' + (error && error.stack || error));
  process.exit(1);
});
