import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildUrl, matchRoute, nextSort, parseQuery, parseSort, formatSort, paths, splitList } from '../src/lib/url';

test('page paths match their routes', () => {
  assert.deepEqual(matchRoute('/'), { page: 'projects' });
  assert.deepEqual(matchRoute('/projects/vision/cnn'), { page: 'runs', entity: 'vision', project: 'cnn' });
  assert.deepEqual(matchRoute('/projects/a%20b/c%2Fd/'), { page: 'runs', entity: 'a b', project: 'c/d' });
  assert.deepEqual(matchRoute('/runs/3fmrd3hh'), { page: 'run', id: '3fmrd3hh' });
  assert.deepEqual(matchRoute('/compare'), { page: 'compare' });
  assert.deepEqual(matchRoute('/datasets'), { page: 'datasets' });
  assert.deepEqual(matchRoute('/datasets/fashion-mnist'), { page: 'dataset', name: 'fashion-mnist' });
  assert.equal(matchRoute('/runs/a/b').page, 'unknown');
  assert.equal(matchRoute('/projects/only-entity').page, 'unknown');
});

test('URLs leave out empty parameters and round-trip through parseQuery', () => {
  const url = buildUrl('/projects/v/c', { filter: "summary.acc > 0.9 and name = 'a&b'", sort: '', columns: undefined });
  assert.equal(url.split('?')[0], '/projects/v/c');
  assert.deepEqual(parseQuery(url.slice(url.indexOf('?'))), { filter: "summary.acc > 0.9 and name = 'a&b'" });
  assert.equal(buildUrl('/x', { a: '' }), '/x');
  assert.equal(paths.compare(['a', 'b']), '/compare?runs=a%2Cb');
  assert.equal(paths.run('a/b'), '/runs/a%2Fb');
});

test('lists drop empty items and repeats', () => {
  assert.deepEqual(splitList('a,,b, a ,c'), ['a', 'b', 'c']);
  assert.deepEqual(splitList(undefined), []);
});

test('a header click cycles ascending, descending, default', () => {
  let s = nextSort(null, 'summary.acc');
  assert.equal(formatSort(s), 'summary.acc');
  s = nextSort(s, 'summary.acc');
  assert.equal(formatSort(s), '-summary.acc');
  s = nextSort(s, 'summary.acc');
  assert.equal(s, null);
  assert.deepEqual(nextSort(parseSort('-name'), 'state'), { field: 'state', descending: false });
  assert.deepEqual(parseSort('-config.lr'), { field: 'config.lr', descending: true });
});
