import { useEffect, useRef } from 'preact/hooks';
import type uPlot from 'uplot';
import type { PowerHistory } from './history.js';

interface ChartProps {
  history: PowerHistory;
  /** Which series: the PDU's total or one socket's. */
  series: number | 'total';
  /** Bumped by the parent on every sample: the chart redraws. */
  version: number;
  title: string;
  height?: number;
}

function cssVar(name: string, fallback: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

/** A uPlot line chart of watts over time, as wide as its container. */
export function PowerChart({ history, series, version, title, height = 140 }: ChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);

  useEffect(() => {
    const element = box.current;
    if (!element) return;
    let gone = false;
    let cleanup = (): void => {
      gone = true;
    };
    // uPlot is its own chunk: fetched once, when the first chart is drawn.
    void import('uplot').then(({ default: UPlot }) => {
      if (gone) return;
      const ink = cssVar('--muted', '#666');
      const grid = cssVar('--line', '#ddd');
      const axis = { stroke: ink, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
      const chart = new UPlot(
        {
          width: Math.max(element.clientWidth, 200),
          height,
          legend: { show: false },
          cursor: { drag: { x: false, y: false } },
          scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(10, max * 1.1)] } },
          axes: [axis, { ...axis, size: 64, values: (_u, ticks) => ticks.map((t) => `${t} W`) }],
          series: [
            {},
            {
              label: 'W',
              stroke: cssVar('--accent', '#2563eb'),
              width: 2,
              spanGaps: false,
              points: { show: false },
            },
          ],
        },
        history.series(series) as uPlot.AlignedData,
        element,
      );
      plot.current = chart;
      const resize = new ResizeObserver(() => {
        chart.setSize({ width: Math.max(element.clientWidth, 200), height });
      });
      resize.observe(element);
      cleanup = () => {
        resize.disconnect();
        chart.destroy();
        plot.current = null;
      };
    });
    return () => cleanup();
  }, [history, series, height]);

  useEffect(() => {
    plot.current?.setData(history.series(series) as uPlot.AlignedData);
  }, [version, history, series]);

  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      <div
        ref={box}
        class="chart-box"
        role="img"
        aria-label={`${title}: power ${history.stored ? 'over the last hours' : 'since the page was opened'}`}
        data-from={history.times[0] === undefined ? '' : String(Math.round(history.times[0] * 1000))}
      />
    </figure>
  );
}
