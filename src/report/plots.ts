/**
 * Plots as SVG through vega-lite (compiled) and vega (headless SVG renderer, no canvas needed).
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  return view.toSVG();
}

export function spectrumSpec(singularValues: number[], title: string): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: 'Singular values of R', subtitle: title },
    width: 420,
    height: 260,
    data: { values: singularValues.map((s, i) => ({ i: i + 1, sigma: s })) },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'i', type: 'ordinal', title: 'index i' },
      y: {
        field: 'sigma',
        type: 'quantitative',
        scale: { type: 'log' },
        title: 'σ_i (dimensionless, log scale)',
      },
    },
  };
}

export interface SeriesPoint {
  x: number;
  y: number;
  lo?: number;
  hi?: number;
  series: string;
}

/** Line plot with optional error bands and horizontal reference lines */
export function lineSpec(opts: {
  title: string;
  subtitle: string;
  xTitle: string;
  yTitle: string;
  points: SeriesPoint[];
  refs?: { y: number; label: string }[];
  logX?: boolean;
  logY?: boolean;
}): TopLevelSpec {
  const xScale = opts.logX ? { type: 'symlog' as const, constant: 0.001 } : {};
  // symlog axes get one tick per decade (vega's default ticks skip the small values)
  const xs = opts.points.map((p) => p.x);
  const decades = [0, 0.001, 0.01, 0.1, 1, 10, 100, 1000, 10000].filter(
    (v) => v >= Math.min(...xs) && v <= Math.max(...xs),
  );
  const xAxis = opts.logX ? { values: decades, labelAngle: 0, format: '~g' } : {};
  const layers: TopLevelSpec[] = [
    {
      mark: { type: 'errorband', opacity: 0.25 },
      encoding: {
        x: { field: 'x', type: 'quantitative', scale: xScale, axis: xAxis, title: opts.xTitle },
        y: { field: 'lo', type: 'quantitative', title: opts.yTitle },
        y2: { field: 'hi' },
        color: { field: 'series', type: 'nominal', legend: { orient: 'bottom', labelLimit: 300 } },
      },
    } as unknown as TopLevelSpec,
    {
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'x', type: 'quantitative', scale: xScale, axis: xAxis, title: opts.xTitle },
        y: {
          field: 'y',
          type: 'quantitative',
          scale: opts.logY ? { type: 'log' } : { zero: false },
          title: opts.yTitle,
        },
        color: {
          field: 'series',
          type: 'nominal',
          title: 'method',
          legend: { orient: 'bottom', labelLimit: 300 },
        },
      },
    } as unknown as TopLevelSpec,
  ];
  if (opts.refs?.length) {
    layers.push({
      data: { values: opts.refs },
      mark: { type: 'rule', strokeDash: [4, 4] },
      encoding: {
        y: { field: 'y', type: 'quantitative' },
        color: {
          field: 'label',
          type: 'nominal',
          title: 'method',
          legend: { orient: 'bottom', labelLimit: 300 },
        },
      },
    } as unknown as TopLevelSpec);
  }
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: opts.title, subtitle: opts.subtitle },
    width: 420,
    height: 260,
    data: { values: opts.points.map((p) => ({ ...p, lo: p.lo ?? p.y, hi: p.hi ?? p.y })) },
    layer: layers,
  } as unknown as TopLevelSpec;
}
