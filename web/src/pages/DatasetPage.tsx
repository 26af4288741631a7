// The datasets the server knows, and one dataset's analysis: label distribution, the mean image
// of each class, the pixel histogram with mean and standard deviation, a grid of samples.
import { useEffect, useRef } from 'preact/hooks';
import { api, datasetImagePath } from '../api';
import { AuthImage } from '../components/AuthImage';
import { ErrorView, Link, Loading, Section, useAsync } from '../components/common';
import { formatNumber } from '../lib/format';
import { colorFor } from '../lib/series';
import type { DatasetInfo, DatasetStats } from '../lib/types';
import { paths, type Params } from '../lib/url';

export function DatasetsPage() {
  const list = useAsync<DatasetInfo[]>((s) => api.datasets(s), []);
  return (
    <div class="page">
      <nav class="crumbs" aria-label="Breadcrumbs"><Link href={paths.projects()}>Projects</Link> / <strong>Datasets</strong></nav>
      <h1>Datasets</h1>
      {list.error ? <ErrorView error={list.error} what="datasets" /> : null}
      {!list.data && !list.error && <Loading what="datasets" />}
      {list.data && (
        <div class="table-scroll auto">
          <table class="data-table">
            <thead><tr><th scope="col">dataset</th><th scope="col">description</th><th scope="col" class="num">classes</th><th scope="col" class="num">train</th><th scope="col" class="num">test</th></tr></thead>
            <tbody>
              {list.data.map((d) => (
                <tr key={d.name} data-testid="dataset-row">
                  <td>{d.available ? <Link href={paths.dataset(d.name)}>{d.name}</Link> : <span title="not downloaded on the server">{d.name} (not available)</span>}</td>
                  <td>{d.description}</td>
                  <td class="num">{d.num_classes}</td>
                  <td class="num">{d.train_count.toLocaleString('en')}</td>
                  <td class="num">{d.test_count.toLocaleString('en')}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

export function DatasetPage(props: { name: string; query: Params }) {
  const split = props.query.split === 'test' ? 'test' : 'train';
  const stats = useAsync<DatasetStats>((s) => api.datasetStats(props.name, split, s), [props.name, split]);
  return (
    <div class="page dataset-page">
      <nav class="crumbs" aria-label="Breadcrumbs">
        <Link href={paths.projects()}>Projects</Link> / <Link href={paths.datasets()}>Datasets</Link> / <strong>{props.name}</strong>
      </nav>
      <header class="page-head row">
        <h1>{props.name}</h1>
        <div class="segmented" role="group" aria-label="Split">
          {(['train', 'test'] as const).map((s) => (
            <Link key={s} href={paths.dataset(props.name, s)} aria-current={s === split ? 'page' : undefined} class={s === split ? 'active' : ''}>{s}</Link>
          ))}
        </div>
      </header>
      {stats.error ? <ErrorView error={stats.error} what={`dataset ${props.name}`} /> : null}
      {!stats.data && !stats.error && <Loading what="statistics" />}
      {stats.data && <DatasetBody stats={stats.data} name={props.name} split={split} />}
    </div>
  );
}

function DatasetBody(props: { stats: DatasetStats; name: string; split: string }) {
  const st = props.stats;
  const names = st.class_names.length ? st.class_names : st.label_counts.map((_, i) => String(i));
  return (
    <>
      <dl class="facts" data-testid="dataset-facts">
        <div><dt>images</dt><dd>{st.count.toLocaleString('en')}</dd></div>
        <div><dt>size</dt><dd>{st.rows}×{st.cols}{st.channels > 1 ? `×${st.channels}` : ''}</dd></div>
        <div><dt>classes</dt><dd>{st.num_classes}</dd></div>
        <div><dt>pixel mean</dt><dd data-testid="pixel-mean">{formatNumber(st.pixel_mean)}</dd></div>
        <div><dt>pixel std</dt><dd data-testid="pixel-std">{formatNumber(st.pixel_std)}</dd></div>
        <div><dt>pixel range</dt><dd>{formatNumber(st.pixel_min)} … {formatNumber(st.pixel_max)}</dd></div>
      </dl>
      <div class="grid-2">
        <Section title="Label distribution">
          <LabelBars counts={st.label_counts} names={names} />
        </Section>
        <Section title="Pixel histogram">
          <PixelHistogram stats={st} />
        </Section>
      </div>
      <Section title="Mean image per class">
        <div class="mean-images" data-testid="mean-images">
          {st.class_mean_images.map((img, i) => (
            <figure key={i}>
              <MeanImage pixels={img} rows={st.rows} cols={st.cols} channels={st.channels} max={st.pixel_max > 1 ? 255 : 1} label={names[i] ?? String(i)} />
              <figcaption>{names[i] ?? i}</figcaption>
            </figure>
          ))}
        </div>
      </Section>
      <Section title="Samples">
        <SampleGrid name={props.name} split={props.split} count={st.count} />
      </Section>
    </>
  );
}

function LabelBars(props: { counts: number[]; names: string[] }) {
  const max = Math.max(1, ...props.counts);
  const total = props.counts.reduce((a, b) => a + b, 0) || 1;
  return (
    <table class="bars" data-testid="label-distribution">
      <tbody>
        {props.counts.map((c, i) => (
          <tr key={i}>
            <th scope="row">{props.names[i] ?? i}</th>
            <td class="bar-cell">
              <span class="bar" style={{ width: `${(100 * c) / max}%`, background: colorFor(0) }} />
            </td>
            <td class="num">{c.toLocaleString('en')} <span class="hint">({((100 * c) / total).toFixed(1)}%)</span></td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

// 256 bins from 0 to the top of the value range (255, or 1 for data scaled to [0, 1]).
function PixelHistogram(props: { stats: DatasetStats }) {
  const st = props.stats;
  const bins = st.pixel_histogram;
  const top = st.pixel_max > 1 ? 255 : 1;
  const W = 520;
  const H = 200;
  const padL = 44;
  const padB = 26;
  const innerW = W - padL - 16;
  const innerH = H - padB - 10;
  // Background pixels (often a huge zero bin) would flatten everything else: a log count axis.
  const maxLog = Math.log10(1 + Math.max(1, ...bins));
  const x = (v: number) => padL + (v / top) * innerW;
  const y = (c: number) => 10 + innerH - (Math.log10(1 + c) / maxLog) * innerH;
  const bw = innerW / Math.max(1, bins.length);
  const mean = st.pixel_mean;
  const sd = st.pixel_std;
  return (
    <svg class="histogram" viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`Pixel histogram; mean ${formatNumber(mean)}, standard deviation ${formatNumber(sd)}`} data-testid="pixel-histogram">
      <rect x={x(Math.max(0, mean - sd))} y={10} width={x(Math.min(top, mean + sd)) - x(Math.max(0, mean - sd))} height={innerH} class="sd-band" />
      {bins.map((c, i) => (c > 0 ? <rect key={i} x={padL + i * bw} y={y(c)} width={Math.max(1, bw - 0.3)} height={10 + innerH - y(c)} class="hist-bar" /> : null))}
      <line x1={x(mean)} x2={x(mean)} y1={10} y2={10 + innerH} class="mean-line" />
      <text x={x(mean) + 4} y={22} class="mark-label">mean {formatNumber(mean, 3)}</text>
      <text x={x(Math.min(top, mean + sd)) + 4} y={38} class="mark-label">±1 sd ({formatNumber(sd, 3)})</text>
      <line x1={padL} x2={padL + innerW} y1={10 + innerH} y2={10 + innerH} class="axis" />
      {(top === 255 ? [0, 64, 128, 192, 255] : [0, 0.25, 0.5, 0.75, 1]).map((v) => (
        <text key={v} x={x(v)} y={H - 8} class="tick" text-anchor="middle">{formatNumber(v, 3)}</text>
      ))}
      <text x={4} y={16} class="tick">count</text>
      <text x={4} y={30} class="tick">(log)</text>
    </svg>
  );
}

function MeanImage(props: { pixels: number[]; rows: number; cols: number; channels: number; max: number; label: string }) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const c = ref.current!;
    const ctx = c.getContext('2d');
    if (!ctx) return;
    const img = ctx.createImageData(props.cols, props.rows);
    const ch = Math.max(1, props.channels);
    for (let p = 0; p < props.rows * props.cols; p++) {
      for (let k = 0; k < 3; k++) {
        const v = props.pixels[p * ch + (ch >= 3 ? k : 0)] ?? 0;
        img.data[p * 4 + k] = Math.round((255 * v) / props.max);
      }
      img.data[p * 4 + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
  }, [props.pixels, props.rows, props.cols, props.channels, props.max]);
  return <canvas ref={ref} width={props.cols} height={props.rows} class="pixelated" role="img" aria-label={`mean image of ${props.label}`} />;
}

function SampleGrid(props: { name: string; split: string; count: number }) {
  const n = Math.min(48, props.count);
  // Spread over the split so the grid is not just its first few images.
  const step = Math.max(1, Math.floor(props.count / n));
  const indices = Array.from({ length: n }, (_, i) => i * step);
  return (
    <div class="image-grid" data-testid="sample-grid">
      {indices.map((i) => (
        <figure key={i}>
          <AuthImage src={datasetImagePath(props.name, props.split, i, 2)} alt={`image ${i}`} />
          <figcaption>#{i}</figcaption>
        </figure>
      ))}
    </div>
  );
}
