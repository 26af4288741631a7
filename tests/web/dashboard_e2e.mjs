// The dashboard end to end, as its users see it: a real `labbook serve` on a free loopback port,
// two small CNNs trained into it by `labbook train`, and Debian's chromium driven headless by
// playwright-core. Checks what a person would check by looking (rows, charts, a confusion-matrix
// cell's images, a comparison, the predictions CSV, what a visitor without a key may see) and
// that the page logs no error. Writes a screenshot of every page to --out.
//
//   node tests/web/dashboard_e2e.mjs --labbook build/bin/labbook --seed build/bin/dashboard_seed \
//     --out build/test-output/web
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';

const argv = process.argv.slice(2);
const option = (name, fallback) => {
  const i = argv.indexOf(name);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : fallback;
};
const labbook = resolve(option('--labbook', 'build/bin/labbook'));
const out = option('--out', 'build/test-output/web');
const chromiumPath = option('--chromium', '/usr/bin/chromium');
const seed = resolve(option('--seed', 'build/bin/dashboard_seed'));
const many = 3000;
mkdirSync(out, { recursive: true });

const dir = mkdtempSync(join(tmpdir(), 'labbook-web-e2e-'));
let server;
let ui;
let browser;
const failures = [];
const deadline = setTimeout(() => {
  console.error('FAIL: the dashboard test ran past 400 s');
  cleanup();
  process.exit(1);
}, 400_000);

function cleanup() {
  if (browser) browser.close().catch(() => {});
  browser = null;
  if (server && server.exitCode === null) server.kill('SIGTERM');
  if (ui && ui.exitCode === null) ui.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}

function check(condition, message) {
  if (!condition) {
    failures.push(message);
    console.error('FAIL: ' + message);
  } else {
    console.log('ok: ' + message);
  }
}

// Starts `labbook serve --port 0 --init-admin` and reads the admin key (stdout) and the address
// (the "listening on" line of the log).
function startServer() {
  return new Promise((resolve, reject) => {
    server = spawn(labbook, ['serve', '--port', '0', '--data', join(dir, 'server'), '--init-admin',
      '--threads', '16'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let key = '';
    let base = '';
    const done = () => { if (key && base) resolve({ key, base }); };
    server.stdout.on('data', (chunk) => {
      stdout += chunk;
      const line = stdout.split('\n')[0];
      if (stdout.includes('\n') && line.startsWith('lb-')) { key = line.trim(); done(); }
    });
    server.stderr.on('data', (chunk) => {
      stderr += chunk;
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr);
      if (match) { base = match[1]; done(); }
    });
    server.on('exit', (code) => reject(new Error(`labbook serve exited with ${code}: ${stderr}`)));
    setTimeout(() => reject(new Error('labbook serve did not start in 20 s: ' + stderr)), 20_000);
  });
}

// Starts `labbook ui --port 0` over `store` and reads the address it prints.
function startUi(store) {
  return new Promise((resolve, reject) => {
    ui = spawn(labbook, ['ui', '--port', '0', '--quiet', '--store', 'sqlite://' + store],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    ui.stdout.on('data', (chunk) => {
      stdout += chunk;
      const match = /(http:\/\/127\.0\.0\.1:\d+)\//.exec(stdout);
      if (match) resolve(match[1]);
    });
    ui.stderr.on('data', (chunk) => { stderr += chunk; });
    ui.on('exit', (code) => reject(new Error(`labbook ui exited with ${code}: ${stderr}`)));
    setTimeout(() => reject(new Error('labbook ui did not start in 20 s: ' + stderr)), 20_000);
  });
}

async function api(base, key, method, path, body) {
  const response = await fetch(base + path, {
    method,
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : {};
}

// A small CNN on the bundled MNIST digits: a couple of seconds per run.
function train(base, key, name, learningRate) {
  const config = join(dir, `${name}.yaml`);
  writeFileSync(config, [
    'dataset: mnist-digits',
    'validation_split: 0.1',
    'layers:',
    '  - {type: Conv2D, filters: 8, kernel_size: 3, activation: relu}',
    '  - {type: MaxPooling2D, pool_size: 2}',
    '  - {type: Flatten}',
    '  - {type: Dense, units: 10, activation: softmax}',
    'loss: categorical_crossentropy',
    `optimizer: {name: adam, learning_rate: ${learningRate}}`,
    'batch_size: 128',
    'epochs: 2',
    'seed: 1',
    'threads: 2',
    '',
  ].join('\n'));
  execFileSync(labbook, ['train', config, '--project', 'digits', '--name', name,
    '--model-out', join(dir, `${name}.lbm`)], {
    cwd: dir,
    env: { ...process.env, LABBOOK_BASE_URL: base, LABBOOK_API_KEY: key, HOME: dir,
      LABBOOK_ENTITY: 'admin', NO_COLOR: '1' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

async function shot(page, name) {
  await page.screenshot({ path: join(out, `${name}.png`), fullPage: true });
}

// Console errors and warnings, uncaught exceptions and failed requests of a page; `allowed` lists
// the HTTP statuses a step expects (a private project is a 404 to a visitor, and the browser
// logs every failed request as a console error too).
function watchConsole(page, label, allowed = []) {
  const errors = [];
  const expected = (status) => allowed.includes(status);
  page.on('console', (message) => {
    if (message.type() !== 'error' && message.type() !== 'warning') return;
    const failed = /Failed to load resource: the server responded with a status of (\d+)/
      .exec(message.text());
    if (failed && expected(Number(failed[1]))) return;
    errors.push(`${label}: console ${message.type()}: ${message.text()} ` +
      `(${page.url()} ${message.location().url || ''})`);
  });
  page.on('response', (response) => {
    if (response.status() >= 400 && !expected(response.status())) {
      errors.push(`${label}: ${response.status()} for ${response.url()} on ${page.url()}`);
    }
  });
  page.on('pageerror', (error) => errors.push(`${label}: uncaught ${error.message}`));
  return errors;
}

async function main() {
  mkdirSync(join(dir, 'server'));
  execFileSync(seed, ['--store', join(dir, 'server', 'labbook.db'), '--runs', String(many),
    '--metrics', '1', '--steps', '2', '--entity', 'admin', '--project', 'many'],
  { stdio: ['ignore', 'ignore', 'inherit'] });
  const { key, base } = await startServer();
  console.log('server at ' + base);
  train(base, key, 'lr-high', 0.01);
  train(base, key, 'lr-low', 0.001);
  const { runs } = await api(base, key, 'GET', '/api/v1/runs?entity=admin&project=digits');
  check(runs.length === 2, `two runs trained into admin/digits (got ${runs.length})`);
  const high = runs.find((run) => run.name === 'lr-high');
  const low = runs.find((run) => run.name === 'lr-low');
  const secret = await api(base, key, 'POST', '/api/v1/runs',
    { entity: 'admin', project: 'secret', name: 'hidden' });
  await api(base, key, 'PATCH', `/api/v1/runs/${secret.run.id}`, { state: 'finished' });

  browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });

  // ---- A team member with a key, at 1280x800.
  const member = await browser.newContext({ viewport: { width: 1280, height: 800 },
    acceptDownloads: true });
  await member.addInitScript((value) => localStorage.setItem('labbook.key', value), key);
  const page = await member.newPage();
  const errors = watchConsole(page, 'member');

  await page.goto(base + '/');
  await page.getByText('digits').first().waitFor({ timeout: 10_000 });
  await shot(page, 'projects');
  check(!page.url().includes(key), 'the key is not in the URL');

  await page.goto(`${base}/projects/admin/digits`);
  const rows = page.getByTestId('run-row');
  await rows.first().waitFor({ timeout: 10_000 });
  check(await rows.count() === 2, `the runs table shows both runs (${await rows.count()})`);
  await shot(page, 'runs');

  // Filter with the CLI's language; the filter lands in the URL.
  const filter = page.getByTestId('runs-filter');
  await filter.fill('config.optimizer.learning_rate > 0.005');
  await filter.press('Enter');
  await page.waitForFunction(
    () => document.querySelectorAll('[data-testid="run-row"]').length === 1, null,
    { timeout: 10_000 }).catch(() => {});
  check(await rows.count() === 1, `the filter leaves one run (${await rows.count()})`);
  check(await rows.first().innerText().then((text) => text.includes('lr-high')),
    'the run left is lr-high');
  check(decodeURIComponent(page.url()).includes('learning_rate > 0.005') ||
    new URL(page.url()).searchParams.get('filter') === 'config.optimizer.learning_rate > 0.005',
    'the filter is in the URL, so it can be shared');
  await shot(page, 'runs-filtered');

  // A shared URL restores the filter.
  await page.goto(page.url());
  await rows.first().waitFor({ timeout: 10_000 });
  check(await rows.count() === 1, 'opening the shared URL shows the same filtered table');

  // Keyboard: tab to the run's link and open it with Enter.
  await page.goto(`${base}/projects/admin/digits`);
  await rows.first().waitFor({ timeout: 10_000 });
  let reached = false;
  for (let i = 0; i < 60 && !reached; ++i) {
    await page.keyboard.press('Tab');
    reached = await page.evaluate(() => {
      const active = document.activeElement;
      return !!active && active.tagName === 'A' && /\/runs\//.test(active.getAttribute('href') || '');
    });
  }
  check(reached, 'a run link is reachable with the Tab key');
  if (reached) {
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/runs\//, { timeout: 10_000 }).catch(() => {});
    check(/\/runs\//.test(page.url()), 'Enter on the focused link opens the run page');
  }

  // Select both runs and compare them.
  await page.goto(`${base}/projects/admin/digits`);
  await rows.first().waitFor({ timeout: 10_000 });
  for (let i = 0; i < 2; ++i) await rows.nth(i).locator('input[type="checkbox"]').check();
  await page.getByTestId('compare-button').click();
  await page.waitForURL(/\/compare/, { timeout: 10_000 });
  await page.getByTestId('chart').first().waitFor({ timeout: 10_000 });
  const compareUrl = new URL(page.url());
  check([high.id, low.id].every((id) => (compareUrl.searchParams.get('runs') || '').includes(id)),
    'the compare URL names both runs');
  check(await page.getByTestId('chart').count() >= 1, 'the compare page overlays the metrics');
  await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="compare-chart"]')]
    .slice(0, 4).every((figure) => Number(figure.getAttribute('data-series')) === 2), null,
  { timeout: 10_000 }).catch(() => {});
  check(await page.locator('[data-testid="compare-chart"]').first().getAttribute('data-series') === '2',
    'the first compare chart draws both runs');
  await page.waitForTimeout(300);
  await page.screenshot({ path: join(out, 'compare-top.png') });
  await shot(page, 'compare');

  // The run page: a chart per metric with the points the server holds.
  const { keys } = await api(base, key, 'GET', `/api/v1/runs/${high.id}/keys`);
  const batchKey = keys.find((info) => info.key === 'batch/loss') || keys[0];
  await page.goto(`${base}/runs/${high.id}`);
  const chart = page.locator(`[data-testid="chart"][data-key="${batchKey.key}"]`);
  await chart.waitFor({ timeout: 15_000 });
  await page.waitForFunction((k) => {
    const element = document.querySelector(`[data-testid="chart"][data-key="${k}"]`);
    return element && Number(element.getAttribute('data-points')) > 0;
  }, batchKey.key, { timeout: 10_000 }).catch(() => {});
  const points = Number(await chart.getAttribute('data-points'));
  check(points === batchKey.count,
    `the ${batchKey.key} chart draws every one of its ${batchKey.count} points (${points})`);

  // The confusion matrix: a cell shows the test images it counts.
  const { evaluation } = await api(base, key, 'GET', `/api/v1/runs/${high.id}/evaluation`);
  let cell = null;
  for (let t = 0; t < evaluation.confusion.length && !cell; ++t) {
    for (let p = 0; p < evaluation.confusion.length; ++p) {
      if (t !== p && evaluation.confusion[t][p] > 0) { cell = { t, p, n: evaluation.confusion[t][p] }; break; }
    }
  }
  cell = cell || { t: 0, p: 0, n: evaluation.confusion[0][0] };
  const cellLocator = page.locator(
    `[data-testid="confusion-cell"][data-true="${cell.t}"][data-pred="${cell.p}"]`);
  await cellLocator.waitFor({ timeout: 15_000 });
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.waitForTimeout(300);
  await page.screenshot({ path: join(out, 'run-top.png') });
  await shot(page, 'run');
  await cellLocator.click();
  const grid = page.getByTestId('cell-images');
  await grid.waitFor({ timeout: 10_000 });
  await page.waitForFunction(() => {
    const images = [...document.querySelectorAll('[data-testid="cell-images"] img')];
    return images.length > 0 && images.every((image) => image.complete && image.naturalWidth > 0);
  }, null, { timeout: 10_000 }).catch(() => {});
  const shown = await grid.locator('img').count();
  check(shown > 0 && shown <= cell.n,
    `the cell (true ${cell.t}, predicted ${cell.p}) shows ${shown} of its ${cell.n} images`);
  const loaded = await grid.locator('img').evaluateAll(
    (images) => images.filter((image) => image.naturalWidth > 0).length);
  check(loaded === shown, `every image of the cell loaded (${loaded}/${shown})`);
  await shot(page, 'run-confusion-cell');
  await page.evaluate(() => document.querySelector('[data-testid="confusion-cell"]')
    .closest('section, .section, div').scrollIntoView({ block: 'start' }));
  await page.evaluate(() => window.scrollBy(0, -70));
  await page.waitForTimeout(200);
  await page.screenshot({ path: join(out, 'run-evaluation.png') });

  // The predictions CSV with the ground truth.
  const [download] = await Promise.all([
    page.waitForEvent('download', { timeout: 15_000 }),
    page.getByTestId('download-predictions').click(),
  ]);
  const saved = join(dir, 'predictions.csv');
  await download.saveAs(saved);
  const csv = readFileSync(saved, 'utf8').trim().split('\n');
  check(csv[0].startsWith('index,label,predicted'), `the CSV has the ground truth (${csv[0]})`);
  check(csv.length - 1 === evaluation.count, `the CSV has all ${evaluation.count} predictions`);

  // The dataset page.
  await page.goto(`${base}/datasets/mnist-digits`);
  await page.waitForLoadState('networkidle');
  await page.getByText('mnist-digits').first().waitFor({ timeout: 10_000 });
  await shot(page, 'dataset');

  // Phone width: the run page fits without sideways scrolling of the page itself.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${base}/runs/${high.id}`);
  await page.getByTestId('chart').first().waitFor({ timeout: 15_000 });
  await page.waitForTimeout(300);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - innerWidth);
  check(overflow <= 1, `at 390 px the run page needs no sideways scroll (${overflow} px over)`);
  await shot(page, 'run-phone');
  // Live: a running run's chart and row grow while the page stays open.
  await page.setViewportSize({ width: 1280, height: 800 });
  const live = (await api(base, key, 'POST', '/api/v1/runs',
    { entity: 'admin', project: 'live', name: 'live-run' })).run;
  const logSteps = (from, to) => api(base, key, 'POST', `/api/v1/runs/${live.id}/history`, {
    keys: ['loss'],
    points: Array.from({ length: to - from }, (_, i) => [0, from + i, 1 / (from + i + 1), 1.7e9 + from + i]),
  });
  await logSteps(0, 10);
  await page.goto(`${base}/runs/${live.id}`);
  const liveChart = page.locator('[data-testid="chart"][data-key="loss"]');
  await liveChart.waitFor({ timeout: 15_000 });
  await page.waitForFunction(() => Number(document.querySelector(
    '[data-testid="chart"][data-key="loss"]')?.getAttribute('data-points')) === 10, null,
  { timeout: 10_000 }).catch(() => {});
  check(Number(await liveChart.getAttribute('data-points')) === 10, 'the live run shows 10 points');
  await logSteps(10, 25);
  const grew = await page.waitForFunction(() => Number(document.querySelector(
    '[data-testid="chart"][data-key="loss"]')?.getAttribute('data-points')) === 25, null,
  { timeout: 20_000 }).then(() => true, () => false);
  check(grew, 'its chart shows the new points within seconds, without a reload ' +
    `(${await liveChart.getAttribute('data-points')} points)`);
  await page.goto(`${base}/projects/admin/live`);
  await rows.first().waitFor({ timeout: 10_000 });
  await api(base, key, 'PATCH', `/api/v1/runs/${live.id}`, { state: 'finished' });
  const finished = await page.waitForFunction(() => {
    const row = document.querySelector('[data-testid="run-row"]');
    return row && /finished/.test(row.textContent || '');
  }, null, { timeout: 10_000 }).then(() => true, () => false);
  check(finished, 'its row turns finished within seconds, without a reload');

  // Virtual scroll: thousands of runs (written by dashboard_seed before the server started), a
  // few dozen rows in the page, the last one reachable.
  const started = Date.now();
  await page.goto(`${base}/projects/admin/many?sort=config.seed`);
  await rows.first().waitFor({ timeout: 20_000 });
  const tableMs = Date.now() - started;
  const rendered = await rows.count();
  check(rendered > 0 && rendered < 300,
    `${many} runs render ${rendered} rows at a time (${tableMs} ms to the first rows)`);
  await shot(page, 'runs-many');
  const lastShown = await page.evaluate(async (last) => {
    const row = document.querySelector('[data-testid="run-row"]');
    let scroller = row && row.parentElement;
    while (scroller && scroller !== document.body && scroller.scrollHeight <= scroller.clientHeight + 1) {
      scroller = scroller.parentElement;
    }
    (scroller && scroller !== document.body ? scroller : document.scrollingElement)
      .scrollTop = 1e9;
    await new Promise((resolve) => setTimeout(resolve, 500));
    return [...document.querySelectorAll('[data-testid="run-row"]')]
      .some((element) => (element.textContent || '').includes(last));
  }, `run-${many - 1}`);
  check(lastShown, 'scrolling to the end shows the last run');

  check(errors.length === 0, 'no console errors for the member' +
    (errors.length ? ':\n  ' + errors.join('\n  ') : ''));

  // ---- A visitor without a key: a public project renders, a private one is refused.
  await api(base, key, 'PATCH', '/api/v1/projects/admin/digits', { visibility: 'public' });
  const visitor = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const guest = await visitor.newPage();
  const guestErrors = watchConsole(guest, 'visitor', [401, 404]);
  await guest.goto(`${base}/projects/admin/digits`);
  await guest.getByTestId('run-row').first().waitFor({ timeout: 10_000 });
  check(await guest.getByTestId('run-row').count() === 2, 'a visitor reads the public project');
  await shot(guest, 'visitor-public');
  await guest.goto(`${base}/projects/admin/secret`);
  await guest.getByTestId('not-found').waitFor({ timeout: 10_000 });
  check(await guest.getByTestId('run-row').count() === 0, 'a visitor sees no run of a private one');
  check(await guest.getByTestId('key-form').count() === 1, 'and is offered to sign in with a key');
  check(await guest.waitForFunction(() => (document.querySelector('.who')?.textContent || '').includes('visitor'),
    null, { timeout: 10_000 }).then(() => true, () => false), 'the header names a visitor');
  await shot(guest, 'visitor-private');
  // Signing in with the key shows the private run; the key stays out of the URL.
  await guest.getByTestId('key-form').locator('input').fill(key);
  await guest.getByTestId('key-form').locator('input').press('Enter');
  await guest.getByTestId('run-row').first().waitFor({ timeout: 10_000 }).catch(() => {});
  check(await guest.getByTestId('run-row').count() === 1, 'after signing in the private run shows');
  check(!guest.url().includes(key), 'the key is not in the URL after signing in');
  check(guestErrors.length === 0, 'no console errors for the visitor' +
    (guestErrors.length ? ':\n  ' + guestErrors.join('\n  ') : ''));

  // ---- `labbook ui` on the same store: no key, the local user reads every project.
  const local = await startUi(join(dir, 'server', 'labbook.db'));
  const mine = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  const localErrors = watchConsole(mine, 'local', []);
  await mine.goto(`${local}/projects/admin/secret`);
  await mine.getByTestId('run-row').first().waitFor({ timeout: 10_000 }).catch(() => {});
  check(await mine.getByTestId('run-row').count() === 1, 'labbook ui shows a private project without a key');
  await mine.waitForFunction(() => (document.querySelector('.who')?.textContent || '').trim() === 'local',
    null, { timeout: 10_000 }).catch(() => {});
  const who = (await mine.locator('.who').innerText()).trim();
  check(who === 'local', `labbook ui names its local user and offers no sign-in (header: ${JSON.stringify(who)})`);
  await shot(mine, 'ui-local');
  check(localErrors.length === 0, 'no console errors on labbook ui' +
    (localErrors.length ? ':\n  ' + localErrors.join('\n  ') : ''));
}

main()
  .catch((error) => {
    failures.push(String(error && error.stack || error));
    console.error('FAIL: ' + (error && error.stack || error));
  })
  .finally(async () => {
    clearTimeout(deadline);
    if (browser) await browser.close().catch(() => {});
    browser = null;
    cleanup();
    console.log(failures.length ? `${failures.length} check(s) failed` : 'all checks passed');
    console.log('screenshots in ' + out);
    process.exit(failures.length ? 1 : 0);
  });
