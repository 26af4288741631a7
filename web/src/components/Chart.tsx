// A uPlot chart in a resizable box. The chart is made once per `optsKey` and fed new columns
// with setData, so live updates and zooms do not rebuild it. A drag selects an x range (handed
// to onZoom instead of uPlot zooming on its own data, so the page can ask the server for the
// window at full resolution); a double click calls onReset.
import uPlot from 'uplot';
import { useEffect, useRef } from 'preact/hooks';

export interface ChartProps {
  opts: Omit<uPlot.Options, 'width' | 'height'>;
  optsKey: string;
  data: uPlot.AlignedData;
  height?: number;
  onZoom?: (min: number, max: number) => void;
  onReset?: () => void;
  onWidth?: (width: number) => void;
  testid?: string;
  dataKey?: string;
  points?: number;
  label?: string;
}

export function Chart(props: ChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const callbacks = useRef(props);
  callbacks.current = props;
  const height = props.height ?? 220;

  useEffect(() => {
    const el = box.current!;
    const width = Math.max(200, el.clientWidth);
    const opts: uPlot.Options = {
      ...props.opts,
      width,
      height,
      cursor: {
        ...props.opts.cursor,
        drag: { x: true, y: false, setScale: false },
        bind: {
          dblclick: () => () => {
            callbacks.current.onReset?.();
            return null;
          },
        },
      },
      hooks: {
        ...props.opts.hooks,
        setSelect: [
          (u: uPlot) => {
            if (u.select.width < 3) return;
            const min = u.posToVal(u.select.left, 'x');
            const max = u.posToVal(u.select.left + u.select.width, 'x');
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            u.setScale('x', { min, max });
            callbacks.current.onZoom?.(min, max);
          },
        ],
      },
    };
    const u = new uPlot(opts, props.data, el);
    plot.current = u;
    callbacks.current.onWidth?.(width);
    let lastWidth = width;
    const ro = new ResizeObserver(() => {
      const w = Math.max(200, el.clientWidth);
      if (w === lastWidth) return;
      lastWidth = w;
      u.setSize({ width: w, height });
      callbacks.current.onWidth?.(w);
    });
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
      plot.current = null;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [props.optsKey, height]);

  useEffect(() => {
    plot.current?.setData(props.data, true);
  }, [props.data]);

  return (
    <div
      class="chart"
      ref={box}
      data-testid={props.testid ?? 'chart'}
      data-key={props.dataKey}
      data-points={props.points}
      role="img"
      aria-label={props.label}
    />
  );
}

export { uPlot };
