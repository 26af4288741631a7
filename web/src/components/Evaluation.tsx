// The evaluation of a run's predictions (GET /runs/{id}/evaluation): accuracy, the confusion
// matrix (a click on a cell shows the test images in it), ROC and PR curves per class, the
// per-class metrics and the predictions themselves, misclassified first, with the CSV to keep.
import uPlot from 'uplot';
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { ApiError, api, artifactFilePath, datasetImagePath, fetchText, saveBlob } from '../api';
import { cellRows, orderMisclassifiedFirst, parsePredictions, type Prediction, type Predictions } from '../lib/csv';
import { formatNumber } from '../lib/format';
import { colorFor } from '../lib/series';
import type { Evaluation, Run } from '../lib/types';
import { visibleWindow } from '../lib/vscroll';
import { AuthImage } from './AuthImage';
import { ErrorView, Loading, Section, useAsync } from './common';

export function EvaluationView(props: { runId: string; run: Run }) {
  const q = useAsync<Evaluation>((s) => api.evaluation(props.runId, s), [props.runId, props.run.state]);
  const ev = q.data;
  const csvPath = ev ? artifactFilePath(ev.artifact, ev.artifact.path || 'predictions.csv') : null;
  const preds = useAsync<{ text: string; parsed: Predictions } | null>(
    async (s) => {
      if (!csvPath) return null;
      const text = await fetchText(csvPath, s);
      return { text, parsed: parsePredictions(text) };
    },
    [csvPath],
  );
  const [cell, setCell] = useState<[number, number] | null>(null);

  if (q.error instanceof ApiError && q.error.status === 404 && !ev) {
    return (
      <section class="notice" data-testid="no-evaluation">
        <h2>No evaluation</h2>
        <p>This run has no predictions artifact. labbook train logs one at the end of training; {props.run.state === 'running' ? 'this run is still running.' : 'or log a predictions.csv (index,label,predicted,p_0..) as an artifact of type predictions.'}</p>
      </section>
    );
  }
  if (q.error) return <ErrorView error={q.error} what="the evaluation" />;
  if (!ev) return <Loading what="the evaluation" />;
  const names = ev.class_names.length ? ev.class_names : ev.confusion.map((_, i) => String(i));
  const download = () => {
    if (!preds.data) return;
    saveBlob(new Blob([preds.data.text], { type: 'text/csv' }), `${props.run.name || props.runId}-predictions.csv`);
  };

  return (
    <>
      <dl class="facts">
        <div><dt>accuracy</dt><dd data-testid="accuracy">{formatNumber(ev.accuracy)}</dd></div>
        <div><dt>examples</dt><dd>{ev.count.toLocaleString('en')}</dd></div>
        {ev.macro.f1 !== undefined && <div><dt>macro F1</dt><dd>{formatNumber(ev.macro.f1)}</dd></div>}
        {ev.macro.auroc !== undefined && <div><dt>macro AUROC</dt><dd>{formatNumber(ev.macro.auroc)}</dd></div>}
        <div><dt>data</dt><dd>{ev.dataset ?? 'unknown dataset'} / {ev.split}</dd></div>
        <div><dt>artifact</dt><dd><code>{ev.artifact.name}:{typeof ev.artifact.version === 'number' ? `v${ev.artifact.version}` : ev.artifact.version}</code></dd></div>
      </dl>
      <div class="grid-2 eval-top">
        <Section title="Confusion matrix">
          <ConfusionMatrix matrix={ev.confusion} names={names} selected={cell} onSelect={setCell} />
          <p class="hint">Rows: true class; columns: predicted. Colour: share of the row. Click a cell for its images.</p>
        </Section>
        <Section title={cell ? `True ${names[cell[0]]}, predicted ${names[cell[1]]}` : 'Images of a cell'}>
          {cell ? (
            <CellImages cell={cell} preds={preds.data?.parsed ?? null} error={preds.error} dataset={ev.dataset} split={ev.split} names={names} />
          ) : (
            <p class="empty">Choose a cell of the confusion matrix.</p>
          )}
        </Section>
      </div>
      <div class="grid-2">
        <Section title="ROC curves">
          <CurveChart kind="roc" curves={ev.roc.map((c) => ({ cls: c.class, x: c.fpr, y: c.tpr }))} names={names} />
        </Section>
        <Section title="Precision–recall curves">
          <CurveChart kind="pr" curves={ev.pr.map((c) => ({ cls: c.class, x: c.recall, y: c.precision }))} names={names} />
        </Section>
      </div>
      <Section title="Per-class metrics">
        <PerClassTable ev={ev} />
      </Section>
      <Section
        title="Predictions"
        actions={
          <button type="button" data-testid="download-predictions" disabled={!preds.data} onClick={download}>
            Download CSV
          </button>
        }
      >
        {preds.error ? <ErrorView error={preds.error} what="the predictions" /> : null}
        {!preds.data && !preds.error && <Loading what="predictions" />}
        {preds.data && <PredictionsTable preds={preds.data.parsed} dataset={ev.dataset} split={ev.split} names={names} />}
      </Section>
    </>
  );
}

function ConfusionMatrix(props: { matrix: number[][]; names: string[]; selected: [number, number] | null; onSelect: (c: [number, number]) => void }) {
  const m = props.matrix;
  const n = m.length;
  const cell = 34;
  const labelW = 92;
  const top = 70;
  const rowSums = m.map((r) => r.reduce((a, b) => a + b, 0) || 1);
  const refs = useRef<Array<SVGGElement | null>>([]);
  const focus = (t: number, p: number) => refs.current[t * n + p]?.focus();
  const onKey = (e: KeyboardEvent, t: number, p: number) => {
    const moves: Record<string, [number, number]> = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      props.onSelect([t, p]);
    } else if (moves[e.key]) {
      e.preventDefault();
      const [dt, dp] = moves[e.key];
      focus(Math.max(0, Math.min(n - 1, t + dt)), Math.max(0, Math.min(n - 1, p + dp)));
    }
  };
  return (
    <div class="confusion-wrap">
      <svg class="confusion" viewBox={`0 0 ${labelW + n * cell + 48} ${top + n * cell + 4}`} style={{ maxWidth: `${labelW + n * cell + 48}px` }} role="grid" aria-label="Confusion matrix">
        {props.names.map((name, p) => (
          <text key={`c${p}`} class="cm-label" transform={`translate(${labelW + p * cell + cell / 2 + 4}, ${top - 6}) rotate(-50)`}>{name}</text>
        ))}
        {m.map((row, t) => (
          <g key={t} role="row">
            <text class="cm-label" x={labelW - 6} y={top + t * cell + cell / 2 + 4} text-anchor="end">{props.names[t]}</text>
            {row.map((v, p) => {
              const share = v / rowSums[t];
              const sel = props.selected && props.selected[0] === t && props.selected[1] === p;
              const diag = t === p;
              const fill = diag ? `rgba(0, 114, 178, ${0.08 + 0.92 * share})` : `rgba(213, 94, 0, ${v === 0 ? 0.02 : 0.1 + 0.9 * Math.min(1, share * 4)})`;
              return (
                <g
                  key={p}
                  role="gridcell"
                  tabIndex={t === 0 && p === 0 ? 0 : -1}
                  ref={(el) => { refs.current[t * n + p] = el; }}
                  class={`cm-cell${sel ? ' selected' : ''}`}
                  data-testid="confusion-cell"
                  data-true={t}
                  data-pred={p}
                  data-count={v}
                  aria-label={`true ${props.names[t]}, predicted ${props.names[p]}: ${v}`}
                  aria-selected={sel ? 'true' : 'false'}
                  onClick={() => props.onSelect([t, p])}
                  onKeyDown={(e) => onKey(e, t, p)}
                >
                  <rect x={labelW + p * cell + 2} y={top + t * cell + 2} width={cell - 2} height={cell - 2} rx="2" fill={fill} />
                  <text x={labelW + p * cell + cell / 2 + 1} y={top + t * cell + cell / 2 + 5} text-anchor="middle" class={`cm-count${diag && share > 0.55 ? ' light' : ''}`}>{v}</text>
                </g>
              );
            })}
          </g>
        ))}
      </svg>
    </div>
  );
}

function CellImages(props: { cell: [number, number]; preds: Predictions | null; error: unknown; dataset: string | null; split: string; names: string[] }) {
  const [limit, setLimit] = useState(60);
  useEffect(() => setLimit(60), [props.cell[0], props.cell[1]]);
  if (props.error) return <p class="error-text">Predictions could not be read: {String((props.error as Error).message)}</p>;
  if (!props.preds) return <Loading what="predictions" />;
  const rows = cellRows(props.preds.rows, props.cell[0], props.cell[1]);
  return (
    <div data-testid="cell-images" data-count={rows.length}>
      <p class="hint">{rows.length.toLocaleString('en')} image{rows.length === 1 ? '' : 's'}{rows.length > limit ? `, the ${limit} most confident shown` : ''}.</p>
      <div class="image-grid">
        {rows.slice(0, limit).map((r) => (
          <figure key={r.index} data-index={r.index}>
            {props.dataset ? (
              <AuthImage src={datasetImagePath(props.dataset, props.split, r.index, 2)} alt={`test image ${r.index}, true ${props.names[r.label]}, predicted ${props.names[r.predicted]}`} />
            ) : (
              <span class="img-missing">#{r.index}</span>
            )}
            <figcaption>#{r.index} · {Number.isNaN(r.confidence) ? '' : formatNumber(r.confidence, 2)}</figcaption>
          </figure>
        ))}
      </div>
      {rows.length > limit && <button type="button" onClick={() => setLimit(limit + 120)}>Show more</button>}
    </div>
  );
}

interface Curve { cls: number; x: number[]; y: number[] }

// uPlot in faceted mode (2): each class keeps its own x values, so the vertical steps of a ROC
// curve (several thresholds at one false-positive rate) are drawn as they are.
function CurveChart(props: { kind: 'roc' | 'pr'; curves: Curve[]; names: string[] }) {
  const box = useRef<HTMLDivElement>(null);
  const [hidden, setHidden] = useState<Set<number>>(new Set());
  useLayoutEffect(() => {
    const el = box.current!;
    const width = Math.max(240, el.clientWidth);
    const series: uPlot.Series[] = [{}];
    const data: uPlot.AlignedData = [null as unknown as number[]];
    props.curves.forEach((c, i) => {
      if (hidden.has(c.cls)) return;
      series.push({
        label: props.names[c.cls] ?? String(c.cls),
        stroke: colorFor(i),
        width: 1.5,
        facets: [{ scale: 'x', auto: false }, { scale: 'y', auto: false }],
      } as uPlot.Series);
      (data as unknown[]).push([c.x, c.y]);
    });
    const opts: uPlot.Options = {
      mode: 2,
      width,
      height: Math.min(320, width * 0.75),
      legend: { show: false },
      cursor: { show: false, drag: { x: false, y: false } },
      scales: { x: { time: false, auto: false, range: [0, 1] }, y: { auto: false, range: [0, 1.02] } },
      axes: [
        { label: props.kind === 'roc' ? 'false positive rate' : 'recall', size: 40 },
        { label: props.kind === 'roc' ? 'true positive rate' : 'precision', size: 50 },
      ],
      series,
    };
    const u = new uPlot(opts, data, el);
    const ro = new ResizeObserver(() => {
      const w = Math.max(240, el.clientWidth);
      if (w !== u.width) u.setSize({ width: w, height: Math.min(320, w * 0.75) });
    });
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
    };
  }, [props.curves, props.names, hidden, props.kind]);
  return (
    <div>
      <div class="chart" ref={box} data-testid={`${props.kind}-chart`} data-key={props.kind} data-points={props.curves[0]?.x.length ?? 0} />
      <ul class="legend-list" aria-label="Classes">
        {props.curves.map((c, i) => (
          <li key={c.cls}>
            <button
              type="button"
              class={`legend-item${hidden.has(c.cls) ? ' off' : ''}`}
              aria-pressed={!hidden.has(c.cls)}
              onClick={() => {
                const next = new Set(hidden);
                if (next.has(c.cls)) next.delete(c.cls);
                else next.add(c.cls);
                setHidden(next);
              }}
            >
              <span class="swatch" style={{ background: colorFor(i) }} />
              {props.names[c.cls] ?? c.cls}
            </button>
          </li>
        ))}
      </ul>
    </div>
  );
}

function PerClassTable(props: { ev: Evaluation }) {
  const cols = ['precision', 'recall', 'f1', 'auroc', 'average_precision'] as const;
  return (
    <div class="table-scroll auto">
      <table class="data-table" data-testid="per-class">
        <thead>
          <tr><th scope="col">class</th>{cols.map((c) => <th key={c} scope="col" class="num">{c.replace('_', ' ')}</th>)}<th scope="col" class="num">support</th></tr>
        </thead>
        <tbody>
          {props.ev.per_class.map((r) => (
            <tr key={r.class}>
              <th scope="row">{r.name || r.class}</th>
              {cols.map((c) => <td key={c} class="num">{formatNumber(r[c], 3)}</td>)}
              <td class="num">{r.support}</td>
            </tr>
          ))}
          <tr class="total">
            <th scope="row">macro</th>
            {cols.map((c) => <td key={c} class="num">{props.ev.macro[c] === undefined ? '' : formatNumber(props.ev.macro[c] as number, 3)}</td>)}
            <td class="num">{props.ev.macro.support ?? ''}</td>
          </tr>
        </tbody>
      </table>
    </div>
  );
}

const kPredRow = 48;

function PredictionsTable(props: { preds: Predictions; dataset: string | null; split: string; names: string[] }) {
  const rows = useMemo(() => orderMisclassifiedFirst(props.preds.rows), [props.preds]);
  const wrong = useMemo(() => rows.filter((r) => r.label !== r.predicted).length, [rows]);
  const scroller = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [viewport, setViewport] = useState(480);
  useLayoutEffect(() => {
    const el = scroller.current!;
    const ro = new ResizeObserver(() => setViewport(el.clientHeight));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  const win = visibleWindow(scrollTop, viewport, kPredRow, rows.length, 4);
  const name = (k: number) => props.names[k] ?? String(k);
  return (
    <>
      <p class="hint">{rows.length.toLocaleString('en')} predictions, {wrong.toLocaleString('en')} misclassified (shown first, most confident first).</p>
      <div class="table-scroll preds-scroll" ref={scroller} onScroll={(e) => setScrollTop((e.target as HTMLElement).scrollTop)}>
        <table class="data-table preds-table">
          <thead>
            <tr><th scope="col">image</th><th scope="col" class="num">index</th><th scope="col">true</th><th scope="col">predicted</th><th scope="col" class="num">confidence</th></tr>
          </thead>
          <tbody>
            {win.padTop > 0 && <tr class="spacer" style={{ height: `${win.padTop}px` }} aria-hidden="true" />}
            {rows.slice(win.start, win.end).map((r: Prediction) => (
              <tr key={r.index} data-testid="prediction-row" class={r.label !== r.predicted ? 'wrong' : ''} style={{ height: `${kPredRow}px` }}>
                <td class="thumb">
                  {props.dataset ? <AuthImage src={datasetImagePath(props.dataset, props.split, r.index)} alt={`test image ${r.index}`} width={40} height={40} /> : null}
                </td>
                <td class="num">{r.index}</td>
                <td>{name(r.label)}</td>
                <td>{r.label !== r.predicted ? <strong>{name(r.predicted)}</strong> : name(r.predicted)}</td>
                <td class="num">{Number.isNaN(r.confidence) ? '' : formatNumber(r.confidence, 3)}</td>
              </tr>
            ))}
            {win.padBottom > 0 && <tr class="spacer" style={{ height: `${win.padBottom}px` }} aria-hidden="true" />}
          </tbody>
        </table>
      </div>
    </>
  );
}
