/**
 * Plots as SVG through vega-lite (compiled) and vega (headless SVG renderer, no canvas needed).
 * Shared styling for every report: one colour per method (METHOD_COLOURS), readable fonts
 * (PLOT_CONFIG), solid legend swatches, titles wrapped (vega estimates text widths headless at ≈ 0.8 em/char)
 * so a figure's natural size stays ≈ 470 px wide and is shown unscaled, two per row.
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/** One colour per method, the same in every panel (colour-blind-safe Tableau/Okabe-Ito picks) */
export const METHOD_COLOURS: Record<string, string> = {
  lrp: '#0072b2',
  sg: '#009e73',
  ig: '#7b3294',
  shapley: '#d55e00',
  gradient: '#56b4e9',
  gi: '#e69f00',
};

/** Display names of the methods, shared by legends and tables */
export const METHOD_LABELS: Record<string, string> = {
  lrp: 'LRP',
  sg: 'SmoothGrad×Input',
  ig: 'Integrated Gradients',
  shapley: 'Shapley sampling',
  gradient: 'Gradient',
  gi: 'Gradient×Input',
};

/** Series label → colour, for labels that name a method (e.g. { 'LRP (gamma-all)': 'lrp' }) */
export function seriesColours(labelToMethod: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(labelToMethod).map(([label, m]) => [label, METHOD_COLOURS[m] ?? '#444444']),
  );
}

export const PLOT_FONT = 'DejaVu Sans, Helvetica, Arial, sans-serif';
export const PLOT_WIDTH = 360;
export const PLOT_HEIGHT = 230;

/** vega-lite config: fonts ≥ 12 px at natural size, opaque legend symbols */
export const PLOT_CONFIG = {
  font: PLOT_FONT,
  title: { fontSize: 14, subtitleFontSize: 12, subtitleColor: '#444', anchor: 'start', offset: 10 },
  axis: { labelFontSize: 12, titleFontSize: 13, titleFontWeight: 'normal', labelLimit: 200 },
  legend: {
    labelFontSize: 12,
    titleFontSize: 12,
    symbolOpacity: 1,
    symbolStrokeWidth: 3,
    symbolSize: 160,
    labelLimit: 260,
  },
} as const;

/**
 * Page style of the HTML reports: figures at their natural size (never shrunk: SVG text stays at
 * ≥ 12 px), two plots per row on a wide screen, captions as wide as a plot.
 */
export const REPORT_CSS = [
  `body{font-family:${PLOT_FONT};max-width:1180px;margin:auto;padding:1em 1.5em;line-height:1.4}`,
  'table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}',
  'figure{display:inline-block;margin:10px 16px 18px 0;vertical-align:top}',
  'figure img{display:block}',
  'figcaption{font-size:13px;color:#333;max-width:500px;margin-top:4px}',
].join('');

/** Wrap text into lines of at most `chars` characters (vega titles take a list of lines) */
export function wrapText(text: string, chars = 48): string[] {
  const lines: string[] = [];
  let cur = '';
  for (const w of text.split(/\s+/).filter(Boolean)) {
    if (cur && cur.length + 1 + w.length > chars) {
      lines.push(cur);
      cur = w;
    } else cur = cur ? `${cur} ${w}` : w;
  }
  if (cur) lines.push(cur);
  return lines;
}

export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  return view.toSVG();
}

export function spectrumSpec(singularValues: number[], title: string): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    config: PLOT_CONFIG,
    title: { text: 'Singular values of R', subtitle: wrapText(title) },
    width: PLOT_WIDTH,
    height: PLOT_HEIGHT,
    data: { values: singularValues.map((s, i) => ({ i: i + 1, sigma: s })) },
    mark: { type: 'line', point: true, color: '#0072b2' },
    encoding: {
      x: { field: 'i', type: 'ordinal', title: 'index i', axis: { labelAngle: 0 } },
      y: {
        field: 'sigma',
        type: 'quantitative',
        scale: { type: 'log' },
        title: 'σ_i (log scale)',
      },
    },
  } as unknown as TopLevelSpec;
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
  /** series / reference label → colour (see seriesColours); the same label keeps its colour everywhere */
  colours?: Record<string, string>;
}): TopLevelSpec {
  const xScale = opts.logX ? { type: 'symlog' as const, constant: 0.001 } : {};
  // symlog axes get one tick per decade (vega's default ticks skip the small values)
  const xs = opts.points.map((p) => p.x);
  const decades = [0, 0.001, 0.01, 0.1, 1, 10, 100, 1000, 10000].filter(
    (v) => v >= Math.min(...xs) && v <= Math.max(...xs),
  );
  const xAxis = opts.logX ? { values: decades, labelAngle: 0, format: '~g' } : { labelAngle: 0 };
  const labels = [
    ...new Set([...opts.points.map((p) => p.series), ...(opts.refs ?? []).map((r) => r.label)]),
  ];
  const colours = opts.colours ?? {};
  const colorScale = {
    domain: labels,
    range: labels.map((l, i) => colours[l] ?? ['#0072b2', '#009e73', '#7b3294', '#d55e00'][i % 4]),
  };
  const legend = { orient: 'bottom', direction: 'vertical', title: null };
  // a rotated axis title longer than the plot's height would push the plot down: wrap it
  const yTitle = wrapText(opts.yTitle, 24);
  const xEnc = { field: 'x', type: 'quantitative', scale: xScale, axis: xAxis, title: opts.xTitle };
  const layers: TopLevelSpec[] = [
    {
      mark: { type: 'errorband', opacity: 0.18 },
      encoding: {
        x: xEnc,
        y: { field: 'lo', type: 'quantitative', title: yTitle },
        y2: { field: 'hi' },
        color: { field: 'series', type: 'nominal', scale: colorScale, legend },
      },
    } as unknown as TopLevelSpec,
    {
      mark: { type: 'line', point: { filled: true, size: 40 }, strokeWidth: 2 },
      encoding: {
        x: xEnc,
        y: {
          field: 'y',
          type: 'quantitative',
          scale: opts.logY ? { type: 'log' } : { zero: false },
          title: yTitle,
        },
        color: { field: 'series', type: 'nominal', scale: colorScale, legend },
      },
    } as unknown as TopLevelSpec,
  ];
  if (opts.refs?.length) {
    layers.push({
      data: { values: opts.refs },
      mark: { type: 'rule', strokeDash: [6, 4], strokeWidth: 2 },
      encoding: {
        y: { field: 'y', type: 'quantitative' },
        color: { field: 'label', type: 'nominal', scale: colorScale, legend },
      },
    } as unknown as TopLevelSpec);
  }
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    config: PLOT_CONFIG,
    // vega's bounds miss the first line of a two-line rotated y title: room on the left
    padding: { left: 18, top: 5, right: 5, bottom: 5 },
    title: { text: wrapText(opts.title, 40), subtitle: wrapText(opts.subtitle, 48) },
    width: PLOT_WIDTH,
    height: PLOT_HEIGHT,
    data: { values: opts.points.map((p) => ({ ...p, lo: p.lo ?? p.y, hi: p.hi ?? p.y })) },
    layer: layers,
  } as unknown as TopLevelSpec;
}
