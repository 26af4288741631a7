// Exponential moving average as TensorBoard and W&B draw it: debiased, so the first points are
// not pulled towards zero, and blind to gaps: a missing or non-finite value gives a gap in the
// output and leaves the running average as it was.
//
// With `xs`, the decay is per unit of x rather than per point: a point that comes after a gap
// of k typical spacings (the median step) decays the average by weight^k, so an unevenly logged
// series smooths as if it had been logged evenly.

export function emaSmooth(
  ys: ArrayLike<number | null>,
  weight: number,
  xs?: ArrayLike<number>,
): Array<number | null> {
  const w = Math.min(Math.max(weight, 0), 0.999);
  const out: Array<number | null> = new Array(ys.length);
  if (w === 0) {
    for (let i = 0; i < ys.length; i++) {
      const y = ys[i];
      out[i] = y === null || !Number.isFinite(y) ? null : y;
    }
    return out;
  }
  const spacing = xs ? medianSpacing(xs) : 1;
  let acc = 0;   // sum of decayed weighted values
  let norm = 0;  // sum of decayed weights: 1 - w^n for evenly spaced points
  let lastX: number | null = null;
  for (let i = 0; i < ys.length; i++) {
    const y = ys[i];
    if (y === null || !Number.isFinite(y)) {
      out[i] = null;
      continue;
    }
    let decay = w;
    if (xs && lastX !== null && spacing > 0) {
      const k = (xs[i] - lastX) / spacing;
      decay = k > 0 ? Math.pow(w, k) : w;
    }
    acc = acc * decay + (1 - decay) * y;
    norm = norm * decay + (1 - decay);
    out[i] = acc / norm;
    if (xs) lastX = xs[i];
  }
  return out;
}

function medianSpacing(xs: ArrayLike<number>): number {
  const d: number[] = [];
  for (let i = 1; i < xs.length; i++) {
    const g = xs[i] - xs[i - 1];
    if (g > 0 && Number.isFinite(g)) d.push(g);
  }
  if (d.length === 0) return 0;
  d.sort((a, b) => a - b);
  return d[Math.floor(d.length / 2)];
}
