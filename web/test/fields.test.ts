import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fieldExpr, flatten, getPath, jsonNumber, parseFieldExpr } from '../src/lib/fields';
import { columnLabel, columnValue, defaultColumns, discoverColumns, runDuration } from '../src/lib/columns';
import { configDiff } from '../src/lib/diff';
import type { Run } from '../src/lib/types';

test('field expressions quote what the filter language cannot take bare', () => {
  assert.equal(fieldExpr(['summary', 'test/accuracy']), 'summary.test/accuracy');
  assert.equal(fieldExpr(['config', 'batch size']), 'config.`batch size`');
  assert.equal(fieldExpr(['config', 'a.b']), 'config.`a.b`');
  for (const segs of [['summary', 'test/accuracy'], ['config', 'batch size', 'x'], ['config', 'a.b']]) {
    assert.deepEqual(parseFieldExpr(fieldExpr(segs)), segs);
  }
  assert.equal(parseFieldExpr('config.`open'), null);
  assert.equal(parseFieldExpr('config..x'), null);
  assert.equal(parseFieldExpr('config.'), null);
});

test('paths walk objects and arrays', () => {
  const v = { a: { b: [10, { c: 'x' }] } };
  assert.equal(getPath(v, ['a', 'b', '0']), 10);
  assert.equal(getPath(v, ['a', 'b', '1', 'c']), 'x');
  assert.equal(getPath(v, ['a', 'nope']), undefined);
  assert.equal(getPath(v, ['a', 'b', 'x']), undefined);
});

test('flatten: arrays as leaves or walked by index', () => {
  const v = { opt: { name: 'adam', lr: 0.1 }, layers: [{ t: 'conv' }], empty: {} };
  assert.deepEqual(flatten(v).map(([k]) => k.join('.')), ['opt.name', 'opt.lr', 'layers', 'empty']);
  assert.deepEqual(flatten(v, { arrays: 'index' }).map(([k]) => k.join('.')), ['opt.name', 'opt.lr', 'layers.0.t', 'empty']);
});

test('numbers JSON cannot hold', () => {
  assert.ok(Number.isNaN(jsonNumber('NaN')));
  assert.equal(jsonNumber('-Infinity'), -Infinity);
  assert.equal(jsonNumber('3'), null);
});

function run(over: Partial<Run>): Run {
  return {
    id: 'r', entity: 'e', project: 'p', name: 'n', group: '', tags: [], notes: '', state: 'finished',
    config: {}, summary: {}, host: '', pid: 0, git_commit: '', start_time: 100, heartbeat_time: 150,
    end_time: null, exit_code: null, ...over,
  };
}

test('columns: the union of keys over the runs, test metrics first by default', () => {
  const runs = [
    run({ config: { lr: 0.1, opt: { name: 'adam' } }, summary: { 'train/loss': 1, 'test/accuracy': 0.9 } }),
    run({ config: { 'batch size': 32 }, summary: { 'val/accuracy': 0.8 } }),
  ];
  const found = discoverColumns(runs);
  assert.deepEqual(found.config, ['config.`batch size`', 'config.lr', 'config.opt.name']);
  assert.deepEqual(found.summary, ['summary.test/accuracy', 'summary.train/loss', 'summary.val/accuracy']);
  assert.deepEqual(defaultColumns(found, 2), ['summary.test/accuracy', 'summary.val/accuracy']);
  assert.equal(columnValue(runs[0], 'summary.test/accuracy'), 0.9);
  assert.equal(columnValue(runs[1], 'config.`batch size`'), 32);
  assert.equal(columnValue(runs[0], 'config.`batch size`'), undefined);
  assert.equal(columnValue(runs[0], 'name'), 'n');
  assert.equal(columnLabel('config.opt.name'), 'opt.name');
});

test('duration: end minus start, else the last heartbeat', () => {
  assert.equal(runDuration(run({ end_time: 160 })), 60);
  assert.equal(runDuration(run({})), 50);
  assert.equal(columnValue(run({}), 'duration'), 50);
  assert.equal(runDuration(run({ start_time: null })), null);
});

test('config differences, key by key', () => {
  const rows = configDiff([
    { lr: 0.1, opt: { name: 'adam' }, layers: [1, 2], seed: 1 },
    { lr: 0.01, opt: { name: 'adam' }, layers: [1, 3] },
  ]);
  const byKey = Object.fromEntries(rows.map((r) => [r.key, r]));
  assert.deepEqual(Object.keys(byKey), ['layers.0', 'layers.1', 'lr', 'opt.name', 'seed']);
  assert.equal(byKey['lr'].differs, true);
  assert.equal(byKey['opt.name'].differs, false);
  assert.equal(byKey['layers.0'].differs, false);
  assert.equal(byKey['layers.1'].differs, true);
  assert.equal(byKey['seed'].differs, true);
  assert.deepEqual(byKey['seed'].values, [1, undefined]);
});
