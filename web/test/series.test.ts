import { test } from 'node:test';
import assert from 'node:assert/strict';
import { colorFor, kPalette } from '../src/lib/series';

test('the first colours are the palette', () => {
  for (let i = 0; i < kPalette.length; i++) assert.equal(colorFor(i), kPalette[i]);
});

test('a large comparison gets a colour per run', () => {
  const colours = Array.from({ length: 360 }, (_, i) => colorFor(i));
  assert.equal(new Set(colours).size, colours.length);
  assert.match(colorFor(10), /^hsl\(\d+(\.\d)?, 70%, \d+%\)$/);
  // Neighbours past the palette differ in hue by the golden angle, not by a few degrees.
  const hue = (c: string) => Number(/^hsl\(([\d.]+)/.exec(c)![1]);
  for (let i = 10; i < 40; i++) {
    const d = Math.abs(hue(colorFor(i + 1)) - hue(colorFor(i)));
    assert.ok(Math.min(d, 360 - d) > 100, `${colorFor(i)} then ${colorFor(i + 1)}`);
  }
});
