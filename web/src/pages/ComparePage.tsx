// Several runs side by side: each history key they share drawn with one line per run, the
// config keys whose values differ, the summaries, and a parallel-coordinates plot of the
// numeric config values against a chosen summary metric. The runs and the metric are in the URL.
import { useMemo, useRef, useState } from 'preact/hooks';
import { api } from '../api';
import { Chart, uPlot } from '../components/Chart';
import { ErrorView, Link, Loading, Section, useAsync, useInterval, useSeen, useWidth } from '../components/common';
import { ChartControls, cursorSync, yAxis, type ChartSettings, type StepZoom } from '../components/MetricChart';
import { configDiff } from '../lib/diff';
import { alignForOverlay, countPoints } from '../lib/downsample';
import { fieldExpr, flatten, getPath, parseFieldExpr } from '../lib/fields';
import { formatNumber, formatValue } from '../lib/format';
import { axisPosition, numericSummaryKeys, parcoordsAxes, type Axis } from '../lib/parcoords';
import { emaSmooth } from '../lib/smooth';
import { colorFor, seriesColumns } from '../lib/series';
import type { KeyInfo, Run, Series } from '../lib/types';
import { buildUrl, paths, splitList, type Params } from '../lib/url';
import { navigate } from '../router';
import { settingsFromQuery, settingsToQuery } from './RunPage';

interface Loaded {
  runs: Run[];
  keys: KeyInfo[][];
}

export function runLabel(run: Run): string {
  return run.name ? `${run.name} (${run.id.slice(0, 6)})` : run.id;
}

export function ComparePage(props: { query: Params }) {
  const ids = useMemo(() => splitList(props.query.runs), [props.query.runs]);
  const [tick, setTick] = useState(0);
  const [zoom, setZoom] = useState<StepZoom>(null);
  const q = useAsync<Loaded>(async (s) => {
    const both = await api.compare(ids, s);
    return { runs: both.map((entry) => entry.run), keys: both.map((entry) => entry.keys) };
  }, [ids.join(',')]);
  const running = !!q.data?.runs.some((r) => r.state === 'running');
  useInterval(() => {
    q.reload();
    setTick((t) => t + 1);
  }, 3000, running);
  const settings = settingsFromQuery(props.query);
  const setParam = (patch: Params) => navigate(buildUrl('/compare', { ...props.query, ...patch }), { replace: true });

  if (ids.length === 0) {
    return (
      <div class="page">
        <h1>Compare</h1>
        <p class="empty">No runs chosen: select runs in a project's table and press Compare.</p>
        <Link href={paths.projects()}>Projects</Link>
      </div>
    );
  }
  if (q.error && !q.data) return <ErrorView error={q.error} what="the runs to compare" />;
  if (!q.data) return <Loading what="runs" />;
  const { runs, keys } = q.data;
  const first = runs[0];

  const common = commonKeys(keys);
  const metrics = numericSummaryKeys(runs);
  const metric = props.query.metric && metrics.includes(props.query.metric) ? props.query.metric : metrics.find((m) => /test.*acc|val.*acc/.test(m)) ?? metrics[0] ?? null;

  return (
    <div class="page compare-page">
      <nav class="crumbs" aria-label="Breadcrumbs">
        <Link href={paths.projects()}>Projects</Link> /{' '}
        <Link href={paths.runs(first.entity, first.project, { selected: ids.join(',') })}>{first.entity}/{first.project}</Link> / <strong>Compare {runs.length} runs</strong>
      </nav>
      <ul class="run-legend" aria-label="Runs" data-testid="compare-runs">
        {runs.map((r, i) => (
          <li key={r.id}>
            <span class="swatch" style={{ background: colorFor(i) }} />
            <Link href={paths.run(r.id)}>{runLabel(r)}</Link>
          </li>
        ))}
      </ul>
      <Section title="Metrics" actions={<ChartControls settings={settings} onChange={(s) => setParam(settingsToQuery(s))} />}>
        {common.length === 0 ? (
          <p class="empty">These runs share no history keys.</p>
        ) : (
          <div class="chart-grid">
            {common.map((k, i) => <OverlayChart key={k} place={i} metric={k} runs={runs} settings={settings} tick={tick} zoom={zoom} setZoom={setZoom} />)}
          </div>
        )}
      </Section>
      <Section title="Parallel coordinates" actions={
        metrics.length > 0 && (
          <label>
            metric{' '}
            <select value={metric ?? ''} onChange={(e) => setParam({ metric: (e.target as HTMLSelectElement).value })} data-testid="metric-select">
              {metrics.map((m) => <option key={m} value={m}>{m.slice('summary.'.length)}</option>)}
            </select>
          </label>
        )
      }>
        <ParallelCoordinates runs={runs} metric={metric} />
      </Section>
      <Section title="Config">
        <ConfigDiff runs={runs} />
      </Section>
      <Section title="Summary">
        <SummaryTable runs={runs} />
      </Section>
    </div>
  );
}

// The history keys every run has (system metrics last); when none are shared by all, those
// shared by two or more.
function commonKeys(keys: KeyInfo[][]): string[] {
  const counts = new Map<string, number>();
  for (const list of keys) for (const k of list) counts.set(k.key, (counts.get(k.key) ?? 0) + 1);
  let chosen = [...counts].filter(([, c]) => c === keys.length).map(([k]) => k);
  if (chosen.length === 0) chosen = [...counts].filter(([, c]) => c >= 2).map(([k]) => k);
  const sys = (k: string) => (k.startsWith('system/') ? 1 : 0);
  return chosen.sort((a, b) => sys(a) - sys(b) || (a < b ? -1 : 1));
}

const kLegendRuns = 12;

function OverlayChart(props: {
  place: number; metric: string; runs: Run[]; settings: ChartSettings; tick: number; zoom: StepZoom; setZoom: (z: StepZoom) => void;
}) {
  const { metric, runs, settings, zoom, setZoom } = props;
  const figure = useRef<HTMLElement>(null);
  const seen = useSeen(figure);
  // The figure's width, known at once, rounded so that small resizes do not read again.
  const boxWidth = useWidth(figure);
  const width = boxWidth > 0 ? Math.max(200, Math.round(boxWidth / 100) * 100) : null;
  const q = useAsync<Array<Series | null> | undefined>(
    (s) =>
      width === null || !seen
        ? Promise.resolve(undefined)
        : api.histories(runs.map((r) => r.id), {
            key: metric,
            samples: width,
            min_step: zoom ? Math.floor(zoom[0]) : undefined,
            max_step: zoom ? Math.ceil(zoom[1]) : undefined,
          }, s, props.place).then((all) => all.map((series) => (series.steps.length ? series : null))),
    [metric, runs.map((r) => r.id).join(','), width, seen, zoom?.[0], zoom?.[1], zoom ? 0 : props.tick],
  );
  // The chart is made when its first series arrive: making ten empty ones first held the page
  // for a quarter of a second before any read began.
  const drawn = useRef(false);
  if (q.data) drawn.current = true;
  const data = useMemo((): uPlot.AlignedData => {
    if (!q.data) return [[], ...runs.map(() => [])];
    const cols = q.data.map((s) => {
      if (!s) return { xs: [] as number[], ys: [] as Array<number | null> };
      const c = seriesColumns(s, settings.x, settings.logY);
      return settings.smoothing > 0 ? { xs: c.xs, ys: emaSmooth(c.ys, settings.smoothing, c.xs) } : c;
    });
    return alignForOverlay(cols, Math.max(50, Math.floor((width ?? 600) / 2))) as uPlot.AlignedData;
  }, [q.data, settings.x, settings.logY, settings.smoothing, width]);

  const opts = useMemo((): Omit<uPlot.Options, 'width' | 'height'> => ({
    scales: { x: { time: settings.x === 'time' }, y: settings.logY ? { distr: 3 } : {} },
    series: [
      { label: settings.x === 'time' ? 'time' : 'step' },
      ...runs.map((r, i) => ({
        label: runLabel(r),
        stroke: colorFor(i),
        width: 1.5,
        spanGaps: true,
        value: (_u: uPlot, v: number | null) => (v === null || v === undefined ? '—' : formatNumber(v)),
      })),
    ],
    axes: [{}, yAxis(settings.logY)],
    cursor: { sync: cursorSync('compare') },
    // Past a dozen runs a legend under every chart is longer than the chart and costs more to
    // lay out than drawing it; the runs' colours are in the list above the charts.
    legend: { show: runs.length <= kLegendRuns },
  }), [runs.map((r) => r.id).join(','), settings.x, settings.logY]);

  return (
    <figure ref={figure} class="chart-card wide" data-testid="compare-chart" data-key={metric}
      data-series={q.data ? q.data.filter((series) => series !== null).length : 0}>
      <figcaption>
        <span class="chart-title">{metric}</span>
        {zoom && <button type="button" class="link-button" onClick={() => setZoom(null)}>reset zoom</button>}
      </figcaption>
      {!drawn.current ? <div class="chart" style={{ height: '220px' }} /> : <Chart
        opts={opts}
        optsKey={`${settings.x}|${settings.logY}|${runs.length}`}
        data={data}
        dataKey={metric}
        points={countPoints(data[1] as Array<number | null>)}
        label={`${metric} of ${runs.length} runs`}
        onZoom={(a, b) => settings.x === 'step' && setZoom([a, b])}
        onReset={() => setZoom(null)}
      />}
    </figure>
  );
}

function ConfigDiff(props: { runs: Run[] }) {
  const [onlyDiff, setOnlyDiff] = useState(false);
  const rows = useMemo(() => configDiff(props.runs.map((r) => r.config)), [props.runs]);
  const differing = rows.filter((r) => r.differs).length;
  const shown = onlyDiff ? rows.filter((r) => r.differs) : rows;
  return (
    <>
      <p class="hint">
        {differing} of {rows.length} keys differ (highlighted).{' '}
        <label class="check"><input type="checkbox" checked={onlyDiff} onChange={(e) => setOnlyDiff((e.target as HTMLInputElement).checked)} /> only differences</label>
      </p>
      <div class="table-scroll auto">
        <table class="data-table diff-table" data-testid="config-diff">
          <thead>
            <tr><th scope="col">key</th>{props.runs.map((r, i) => <th key={r.id} scope="col"><span class="swatch" style={{ background: colorFor(i) }} />{runLabel(r)}</th>)}</tr>
          </thead>
          <tbody>
            {shown.map((row) => (
              <tr key={row.key} class={row.differs ? 'differs' : ''} data-differs={row.differs ? 'true' : 'false'}>
                <th scope="row">{row.key}</th>
                {row.values.map((v, i) => <td key={i} class="num">{v === undefined ? <span class="missing">—</span> : formatValue(v)}</td>)}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}

function SummaryTable(props: { runs: Run[] }) {
  const keys = useMemo(() => {
    const s = new Set<string>();
    for (const r of props.runs) for (const [segs] of flatten(r.summary)) s.add(fieldExpr(segs));
    return [...s].sort();
  }, [props.runs]);
  return (
    <div class="table-scroll auto">
      <table class="data-table diff-table" data-testid="summary-compare">
        <thead>
          <tr><th scope="col">key</th>{props.runs.map((r, i) => <th key={r.id} scope="col"><span class="swatch" style={{ background: colorFor(i) }} />{runLabel(r)}</th>)}</tr>
        </thead>
        <tbody>
          {keys.map((k) => (
            <tr key={k}>
              <th scope="row">{k}</th>
              {props.runs.map((r) => <td key={r.id} class="num">{formatValue(getPath(r.summary, parseFieldExpr(k) ?? []))}</td>)}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function ParallelCoordinates(props: { runs: Run[]; metric: string | null }) {
  const axes = useMemo(() => parcoordsAxes(props.runs, props.metric), [props.runs, props.metric]);
  const box = useRef<HTMLDivElement>(null);
  const width = useWidth(box);
  if (axes.length < 2) {
    return <p class="empty">Needs a numeric config value that differs between the runs, and a numeric summary metric.</p>;
  }
  // Drawn at the width it is shown at, so text keeps its size; narrow screens scroll sideways.
  const W = Math.max(axes.length * 110, width || 800);
  const H = 300;
  const top = 40;
  const bottom = 30;
  const left = 60;
  const gap = (W - 2 * left) / (axes.length - 1);
  const y = (a: Axis, v: number) => top + (1 - axisPosition(a, v)) * (H - top - bottom);
  const metricAxis = props.metric ? axes[axes.length - 1] : null;
  return (
    <div class="parcoords-wrap" ref={box}>
      <svg class="parcoords" width={W} height={H} viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`Parallel coordinates of ${axes.map((a) => a.label).join(', ')}`} data-testid="parallel-coordinates">
        {props.runs.map((r, i) => {
          const pts: string[] = [];
          axes.forEach((a, j) => {
            const v = a.values[i];
            if (v !== null) pts.push(`${left + j * gap},${y(a, v)}`);
          });
          const m = metricAxis?.values[i];
          return (
            <polyline key={r.id} points={pts.join(' ')} class="pc-line" stroke={colorFor(i)} data-run={r.id}>
              <title>{runLabel(r)}{m !== null && m !== undefined ? `: ${formatNumber(m)}` : ''}</title>
            </polyline>
          );
        })}
        {axes.map((a, j) => (
          <g key={a.key} transform={`translate(${left + j * gap}, 0)`}>
            <line y1={top} y2={H - bottom} class="pc-axis" />
            <text y={top - 22} text-anchor="middle" class={`pc-label${a === metricAxis ? ' metric' : ''}`}>{a.label}</text>
            <text y={top - 6} text-anchor="middle" class="tick">{formatNumber(a.max, 3)}</text>
            <text y={H - bottom + 16} text-anchor="middle" class="tick">{formatNumber(a.min, 3)}{a.log ? ' (log)' : ''}</text>
          </g>
        ))}
      </svg>
    </div>
  );
}
