/**
 * Small line plots as hand-written SVG. Why not vega (a project dependency, used for the
 * CLI's figures): a vega view parses and lays out its spec on every change, tens of ms, while
 * these plots are redrawn on every slider move inside the lab's 150 ms budget; they need only
 * axes, a log scale and a marker, a few dozen lines here.
 */
export interface Series {
  x: number[];
  y: number[];
  colour: string;
  label?: string;
  dots?: boolean;
}

export interface PlotOptions {
  width?: number;
  height?: number;
  title: string;
  xLabel: string;
  /** map a data x to the axis (e.g. log10) and label ticks */
  xScale?: (x: number) => number;
  xTicks?: { at: number; label: string }[];
  yLog?: boolean;
  /** vertical marker at this data x (the current parameter value), and a dot at markerY */
  markerX?: number;
  markerY?: number;
}

const NS = 'http://www.w3.org/2000/svg';
const fmt = (v: number) =>
  Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-2 && v !== 0) ? v.toExponential(1) : v.toPrecision(3);

function el(name: string, attrs: Record<string, string | number>, text?: string): SVGElement {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

export function linePlot(series: Series[], o: PlotOptions): SVGSVGElement {
  const W = o.width ?? 300;
  const H = o.height ?? 160;
  const m = { l: 46, r: 10, t: 18, b: 30 };
  const sx = o.xScale ?? ((x: number) => x);
  const sy = (y: number) => (o.yLog ? Math.log10(y) : y);
  const pts = series
    .flatMap((s) => s.x.map((x, i) => [sx(x), sy(s.y[i])]))
    .filter((p) => p.every(Number.isFinite));
  if (o.markerX !== undefined)
    pts.push([sx(o.markerX), o.markerY !== undefined ? sy(o.markerY) : Number.NaN]);
  const xs = pts.map((p) => p[0]);
  const ys = pts.map((p) => p[1]).filter(Number.isFinite);
  let [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (!(x1 > x0)) [x0, x1] = [x0 - 1, x0 + 1];
  if (!(y1 > y0)) [y0, y1] = [y0 - 1, y0 + 1];
  const pad = (y1 - y0) * 0.08;
  [y0, y1] = [y0 - pad, y1 + pad];
  const px = (x: number) => m.l + ((x - x0) / (x1 - x0)) * (W - m.l - m.r);
  const py = (y: number) => H - m.b - ((y - y0) / (y1 - y0)) * (H - m.t - m.b);
  const svg = el('svg', { width: W, height: H, viewBox: `0 0 ${W} ${H}`, class: 'plot' }) as SVGSVGElement;
  svg.append(el('text', { x: m.l, y: 12, class: 'plot-title' }, o.title));
  svg.append(el('line', { x1: m.l, y1: H - m.b, x2: W - m.r, y2: H - m.b, class: 'axis' }));
  svg.append(el('line', { x1: m.l, y1: m.t, x2: m.l, y2: H - m.b, class: 'axis' }));
  const xt = o.xTicks ?? [0, 0.5, 1].map((f) => ({ at: x0 + f * (x1 - x0), label: fmt(x0 + f * (x1 - x0)) }));
  for (const t of xt) {
    const X = px(o.xScale ? sx(t.at) : t.at);
    if (X < m.l - 1 || X > W - m.r + 1) continue;
    svg.append(el('line', { x1: X, y1: H - m.b, x2: X, y2: H - m.b + 3, class: 'axis' }));
    svg.append(el('text', { x: X, y: H - m.b + 13, class: 'tick', 'text-anchor': 'middle' }, t.label));
  }
  for (const f of [0, 0.5, 1]) {
    const v = y0 + pad + f * (y1 - y0 - 2 * pad);
    svg.append(
      el(
        'text',
        { x: m.l - 4, y: py(v) + 3, class: 'tick', 'text-anchor': 'end' },
        fmt(o.yLog ? 10 ** v : v),
      ),
    );
  }
  svg.append(
    el('text', { x: (m.l + W - m.r) / 2, y: H - 3, class: 'tick', 'text-anchor': 'middle' }, o.xLabel),
  );
  if (o.markerX !== undefined) {
    const X = px(sx(o.markerX));
    svg.append(el('line', { x1: X, y1: m.t, x2: X, y2: H - m.b, class: 'marker' }));
    if (o.markerY !== undefined && Number.isFinite(sy(o.markerY)))
      svg.append(el('circle', { cx: X, cy: py(sy(o.markerY)), r: 4, class: 'marker-dot' }));
  }
  for (const s of series) {
    const p = s.x.map((x, i) => [px(sx(x)), py(sy(s.y[i]))]).filter((q) => q.every(Number.isFinite));
    if (p.length === 0) continue;
    svg.append(
      el('polyline', {
        points: p.map((q) => q.join(',')).join(' '),
        fill: 'none',
        stroke: s.colour,
        'stroke-width': 1.5,
      }),
    );
    if (s.dots) for (const [X, Y] of p) svg.append(el('circle', { cx: X, cy: Y, r: 2, fill: s.colour }));
  }
  return svg;
}

/** Axis for γ including 0: log10 for γ > 0, and γ = 0 drawn half a decade left of the smallest γ. */
export function gammaAxis(min = 1e-3): {
  scale: (g: number) => number;
  ticks: { at: number; label: string }[];
} {
  const lo = Math.log10(min);
  const scale = (g: number) => (g <= 0 ? lo - 0.5 : Math.log10(Math.min(g, 1e8)));
  const ticks = [{ at: 0, label: '0' }];
  for (let e = lo; e <= 3; e++) ticks.push({ at: 10 ** e, label: `1e${e}` });
  return { scale, ticks };
}
