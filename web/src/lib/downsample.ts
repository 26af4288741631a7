// Client-side downsampling for charts that overlay many runs. The server already sends about
// one point per pixel per run; this puts the runs on one x grid so that uPlot gets one aligned
// table of bounded size, and keeps each bucket's minimum and maximum so spikes stay visible.

export type Column = Array<number | null>;

export interface XY {
  xs: ArrayLike<number>;
  ys: ArrayLike<number | null>;
}

// Cuts [xs[0], xs[last]] into `buckets` equal ranges; each keeps its minimum and maximum in the
// order they came (one point when they are the same one). Null and non-finite values are skipped.
export function minMaxBuckets(series: XY, buckets: number): { xs: number[]; ys: number[] } {
  const { xs, ys } = series;
  const n = xs.length;
  const outX: number[] = [];
  const outY: number[] = [];
  if (n === 0 || buckets <= 0) return { xs: outX, ys: outY };
  const lo = xs[0];
  const hi = xs[n - 1];
  const width = (hi - lo) / buckets;
  let i = 0;
  while (i < n) {
    const b = width > 0 ? Math.min(buckets - 1, Math.floor((xs[i] - lo) / width)) : 0;
    let minI = -1;
    let maxI = -1;
    while (i < n && (width > 0 ? Math.min(buckets - 1, Math.floor((xs[i] - lo) / width)) : 0) === b) {
      const y = ys[i];
      if (y !== null && Number.isFinite(y)) {
        if (minI < 0 || y < (ys[minI] as number)) minI = i;
        if (maxI < 0 || y > (ys[maxI] as number)) maxI = i;
      }
      i++;
    }
    if (minI < 0) continue;
    for (const j of minI === maxI ? [minI] : minI < maxI ? [minI, maxI] : [maxI, minI]) {
      outX.push(xs[j]);
      outY.push(ys[j] as number);
    }
  }
  return { xs: outX, ys: outY };
}

// Joins several series on the union of their x values (sorted), with null where a series has
// no point. x values that repeat within a series keep their last value.
export function joinOnX(series: readonly XY[]): [number[], ...Column[]] {
  const all = new Set<number>();
  for (const s of series) for (let i = 0; i < s.xs.length; i++) all.add(s.xs[i]);
  const xs = [...all].sort((a, b) => a - b);
  const index = new Map<number, number>();
  xs.forEach((x, i) => index.set(x, i));
  const cols: Column[] = series.map((s) => {
    const col: Column = new Array(xs.length).fill(null);
    for (let i = 0; i < s.xs.length; i++) {
      const y = s.ys[i];
      col[index.get(s.xs[i])!] = y === null || !Number.isFinite(y) ? null : y;
    }
    return col;
  });
  return [xs, ...cols];
}

// One aligned table for an overlay of `series` at most about 2 * `buckets` x values wide.
// When the union of their x values is already that small (runs logged at the same steps) it is
// exact; otherwise each series is cut into the same `buckets` ranges of x, and its bucket
// minimum and maximum are placed at the first and second quarter of the bucket, in the order
// they came, so every series lands on the same grid.
export function alignForOverlay(series: readonly XY[], buckets: number): [number[], ...Column[]] {
  const union = new Set<number>();
  for (const s of series) {
    for (let i = 0; i < s.xs.length; i++) union.add(s.xs[i]);
    if (union.size > 2 * buckets) break;
  }
  if (union.size <= 2 * buckets) return joinOnX(series);

  let lo = Infinity;
  let hi = -Infinity;
  for (const s of series) {
    if (s.xs.length === 0) continue;
    lo = Math.min(lo, s.xs[0]);
    hi = Math.max(hi, s.xs[s.xs.length - 1]);
  }
  const width = (hi - lo) / buckets;
  const xs: number[] = new Array(2 * buckets);
  for (let b = 0; b < buckets; b++) {
    xs[2 * b] = lo + (b + 0.25) * width;
    xs[2 * b + 1] = lo + (b + 0.75) * width;
  }
  const cols: Column[] = series.map((s) => {
    const col: Column = new Array(2 * buckets).fill(null);
    const minI: number[] = new Array(buckets).fill(-1);
    const maxI: number[] = new Array(buckets).fill(-1);
    for (let i = 0; i < s.xs.length; i++) {
      const y = s.ys[i];
      if (y === null || !Number.isFinite(y)) continue;
      const b = Math.min(buckets - 1, Math.max(0, Math.floor((s.xs[i] - lo) / width)));
      if (minI[b] < 0 || y < (s.ys[minI[b]] as number)) minI[b] = i;
      if (maxI[b] < 0 || y > (s.ys[maxI[b]] as number)) maxI[b] = i;
    }
    for (let b = 0; b < buckets; b++) {
      if (minI[b] < 0) continue;
      const first = Math.min(minI[b], maxI[b]);
      const second = Math.max(minI[b], maxI[b]);
      col[2 * b] = s.ys[first] as number;
      col[2 * b + 1] = s.ys[second] as number;
    }
    return col;
  });
  return [xs, ...cols];
}

// The points a column draws: its non-null entries.
export function countPoints(col: ArrayLike<number | null | undefined>): number {
  let n = 0;
  for (let i = 0; i < col.length; i++) if (col[i] !== null && col[i] !== undefined) n++;
  return n;
}
