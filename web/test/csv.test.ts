import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cellRows, orderMisclassifiedFirst, parseCsv, parsePredictions } from '../src/lib/csv';

test('plain rows, with or without a final newline', () => {
  assert.deepEqual(parseCsv('a,b\n1,2\n'), [['a', 'b'], ['1', '2']]);
  assert.deepEqual(parseCsv('a,b\n1,2'), [['a', 'b'], ['1', '2']]);
});

test('quoted fields hold commas, newlines and doubled quotes', () => {
  assert.deepEqual(parseCsv('name,note\n"a,b","say ""hi""\nthere"\n'), [
    ['name', 'note'],
    ['a,b', 'say "hi"\nthere'],
  ]);
});

test('CRLF, a byte-order mark and empty fields', () => {
  assert.deepEqual(parseCsv('\ufeffx,y,z\r\n,,\r\n1,,3\r\n'), [['x', 'y', 'z'], ['', '', ''], ['1', '', '3']]);
  assert.deepEqual(parseCsv('"",a\n'), [['', 'a']]);
  assert.deepEqual(parseCsv(''), []);
});

const kCsv = 'index,label,predicted,p_0,p_1,p_2\n0,1,1,0.1,0.8,0.1\n1,2,0,0.6,0.1,0.3\n2,2,0,0.9,0.05,0.05\n3,0,0,0.7,0.2,0.1\n';

test('predictions: columns by name, confidence of the predicted class', () => {
  const p = parsePredictions(kCsv);
  assert.equal(p.rows.length, 4);
  assert.equal(p.numClasses, 3);
  assert.deepEqual(p.rows.map((r) => r.index), [0, 1, 2, 3]);
  assert.ok(Math.abs(p.rows[1].confidence - 0.6) < 1e-6);
  // the column order does not matter
  const swapped = parsePredictions('predicted,index,label\n1,5,2\n');
  assert.deepEqual([swapped.rows[0].index, swapped.rows[0].label, swapped.rows[0].predicted], [5, 2, 1]);
  assert.ok(Number.isNaN(swapped.rows[0].confidence));
});

test('predictions: bad input names the problem', () => {
  assert.throws(() => parsePredictions('index,label\n0,1\n'), /no column 'predicted'/);
  assert.throws(() => parsePredictions('index,label,predicted\n0,1,x\n'), /line 2: predicted 'x'/);
  assert.throws(() => parsePredictions(''), /empty/);
});

test('misclassified first, the most confident first', () => {
  const rows = orderMisclassifiedFirst(parsePredictions(kCsv).rows);
  assert.deepEqual(rows.map((r) => r.index), [2, 1, 0, 3]);
});

test('the rows of one confusion-matrix cell', () => {
  const rows = parsePredictions(kCsv).rows;
  assert.deepEqual(cellRows(rows, 2, 0).map((r) => r.index), [2, 1]);
  assert.deepEqual(cellRows(rows, 0, 2), []);
});
