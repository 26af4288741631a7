// One history key of one run: asks the server for about one point per pixel of the chart's
// width (and for the zoomed step window, again at full resolution), draws the raw series faded
// and its moving average on top.
import { useMemo, useState } from 'preact/hooks';
import { api } from '../api';
import { emaSmooth } from '../lib/smooth';
import { colorFor, seriesColumns, stepRangeForTimes, type XAxis } from '../lib/series';
import { countPoints } from '../lib/downsample';
import { formatNumber, formatTicks } from '../lib/format';
import type { Series } from '../lib/types';
import { Chart, uPlot } from './Chart';
import { useAsync } from './common';

export interface ChartSettings {
  smoothing: number;  // 0..0.99
  x: XAxis;
  logY: boolean;
}

function roundWidth(w: number): number {
  return Math.max(200, Math.round(w / 100) * 100);
}

// Charts shown together zoom together: a step range, or null for everything.
export type StepZoom = [number, number] | null;

// Hover positions are shared between the charts of a page, drags are not: a drag zooms every
// chart once, through the shared zoom, rather than once per chart.
export function cursorSync(key: string): uPlot.Cursor.Sync {
  return { key, filters: { pub: (type: string) => type !== 'mousedown' && type !== 'mouseup' } };
}

// The y axis: our number format on a linear scale; uPlot's own labels on a log scale, which
// label only some of the ticks (the others come as null).
export function yAxis(logY: boolean): uPlot.Axis {
  if (logY) return { size: 60 };
  return { size: 60, values: (_u, vals) => formatTicks(vals) };
}

export function MetricChart(props: {
  runId: string; metric: string; settings: ChartSettings; tick: number; zoom: StepZoom; setZoom: (z: StepZoom) => void;
}) {
  const { runId, metric, settings, zoom, setZoom } = props;
  const [width, setWidth] = useState<number | null>(null);  // known once the chart is laid out
  const history = useAsync<Series | undefined>(
    (signal) =>
      width === null ? Promise.resolve(undefined) : api.history(runId, {
        key: metric,
        samples: width ?? undefined,
        min_step: zoom ? Math.floor(zoom[0]) : undefined,
        max_step: zoom ? Math.ceil(zoom[1]) : undefined,
      }, signal),
    [runId, metric, width, zoom?.[0], zoom?.[1], zoom ? 0 : props.tick],
  );
  const series = history.data;

  const data = useMemo((): uPlot.AlignedData => {
    if (!series) return [[], []];
    const cols = seriesColumns(series, settings.x, settings.logY);
    if (settings.smoothing <= 0) return [cols.xs, cols.ys];
    return [cols.xs, cols.ys, emaSmooth(cols.ys, settings.smoothing, cols.xs)];
  }, [series, settings.x, settings.logY, settings.smoothing]);

  const smoothed = settings.smoothing > 0;
  const color = colorFor(0);
  const opts = useMemo((): Omit<uPlot.Options, 'width' | 'height'> => ({
    scales: {
      x: { time: settings.x === 'time' },
      y: settings.logY ? { distr: 3 } : {},
    },
    series: [
      { label: settings.x === 'time' ? 'time' : 'step' },
      {
        label: smoothed ? `${metric} (raw)` : metric,
        stroke: smoothed ? color + '55' : color,
        width: smoothed ? 1 : 1.5,
        spanGaps: false,
        value: (_u, v) => (v === null || v === undefined ? '—' : formatNumber(v)),
      },
      ...(smoothed
        ? [{ label: metric, stroke: color, width: 2, value: (_u: uPlot, v: number | null) => (v === null ? '—' : formatNumber(v)) }]
        : []),
    ],
    axes: [{}, yAxis(settings.logY)],
    cursor: { sync: cursorSync(`run-${runId}`) },
    legend: { live: true },
  }), [settings.x, settings.logY, smoothed, metric, runId]);

  const onZoom = (min: number, max: number) => {
    if (settings.x === 'step') return setZoom([min, max]);
    const range = series ? stepRangeForTimes(series, min, max) : null;
    if (range) setZoom(range);
  };

  return (
    <figure class="chart-card">
      <figcaption>
        <span class="chart-title">{metric}</span>
        {series && (
          <span class="chart-meta">
            {series.downsampled ? `${series.steps.length} of ${series.points_in_range} points` : `${series.points_in_range} point${series.points_in_range === 1 ? '' : 's'}`}
            {zoom && (
              <button type="button" class="link-button" onClick={() => setZoom(null)}>reset zoom</button>
            )}
          </span>
        )}
      </figcaption>
      {history.error ? <p class="error-text">{String((history.error as Error).message ?? history.error)}</p> : null}
      <Chart
        opts={opts}
        optsKey={`${settings.x}|${settings.logY}|${smoothed}`}
        data={data}
        dataKey={metric}
        points={countPoints(data[1] as Array<number | null>)}
        label={`${metric} against ${settings.x}`}
        onZoom={onZoom}
        onReset={() => setZoom(null)}
        onWidth={(w) => setWidth(roundWidth(w))}
      />
    </figure>
  );
}

export function ChartControls(props: { settings: ChartSettings; onChange: (s: ChartSettings) => void }) {
  const { settings, onChange } = props;
  return (
    <div class="chart-controls" role="group" aria-label="Chart settings">
      <label>
        Smoothing
        <input
          type="range" min="0" max="0.99" step="0.01"
          value={settings.smoothing}
          onInput={(e) => onChange({ ...settings, smoothing: Number((e.target as HTMLInputElement).value) })}
        />
        <output>{settings.smoothing.toFixed(2)}</output>
      </label>
      <label>
        x axis
        <select value={settings.x} onChange={(e) => onChange({ ...settings, x: (e.target as HTMLSelectElement).value as XAxis })}>
          <option value="step">step</option>
          <option value="time">wall time</option>
        </select>
      </label>
      <label class="check">
        <input type="checkbox" checked={settings.logY} onChange={(e) => onChange({ ...settings, logY: (e.target as HTMLInputElement).checked })} />
        log scale
      </label>
      <span class="hint">Drag to zoom, double-click to reset.</span>
    </div>
  );
}
