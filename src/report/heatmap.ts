/**
 * Heat maps as PNG (pngjs): a diverging colour map centred at 0 (blue < 0 < red, white at 0,
 * symmetric in max|h|), with the input drawn faintly underneath, upscaled by nearest neighbour.
 * `heatmapPanelSvg` puts the input, one or more heat maps and a colour bar with the value range
 * side by side in one SVG (images embedded), the form reports show.
 */
import { PNG } from 'pngjs';
import { PLOT_FONT } from './plots.js';

export interface HeatmapOptions {
  /** grey image [H·W] in any range, drawn faintly underneath */
  background?: Float32Array | Float64Array;
  /** symmetric colour limit (default max|h|) */
  limit?: number;
  /** target minimum size in pixels */
  minSize?: number;
}

/** Diverging map: t ∈ [-1, 1] → RGB (coolwarm-like, white at 0) */
export function diverging(t: number): [number, number, number] {
  const a = Math.min(1, Math.abs(t));
  const end = t >= 0 ? [178, 24, 43] : [33, 102, 172];
  return [0, 1, 2].map((c) => Math.round(255 + (end[c] - 255) * a)) as [number, number, number];
}

export function heatmapPng(
  h: ArrayLike<number>,
  height: number,
  width: number,
  opts: HeatmapOptions = {},
): Buffer {
  let lim = opts.limit ?? 0;
  if (!opts.limit) for (let i = 0; i < h.length; i++) lim = Math.max(lim, Math.abs(h[i]));
  const scale = Math.max(1, Math.ceil((opts.minSize ?? 224) / Math.max(height, width)));
  let bmin = Number.POSITIVE_INFINITY;
  let bmax = Number.NEGATIVE_INFINITY;
  if (opts.background)
    for (const v of opts.background) {
      bmin = Math.min(bmin, v);
      bmax = Math.max(bmax, v);
    }
  const png = new PNG({ width: width * scale, height: height * scale });
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = y * width + x;
      const t = lim > 0 ? h[p] / lim : 0;
      let [r, g, b] = diverging(t);
      if (opts.background && bmax > bmin) {
        const ink = (opts.background[p] - bmin) / (bmax - bmin); // 1 = stroke
        const shade = 1 - 0.35 * ink * (1 - Math.min(1, Math.abs(t)));
        r *= shade;
        g *= shade;
        b *= shade;
      }
      for (let dy = 0; dy < scale; dy++) {
        for (let dx = 0; dx < scale; dx++) {
          const o = ((y * scale + dy) * width * scale + x * scale + dx) * 4;
          png.data[o] = r;
          png.data[o + 1] = g;
          png.data[o + 2] = b;
          png.data[o + 3] = 255;
        }
      }
    }
  }
  return PNG.sync.write(png);
}

/** Channel-summed grey background of a model input [C,H,W] */
export function greyOf(x: Float32Array, shape: number[]): Float32Array {
  const [C, H, W] = shape.length === 3 ? shape : [1, 1, x.length];
  const out = new Float32Array(H * W);
  for (let c = 0; c < C; c++) for (let p = 0; p < H * W; p++) out[p] += x[c * H * W + p] / C;
  return out;
}

/** max |h|: the colour limit heatmapPng uses by default */
export function maxAbs(h: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < h.length; i++) m = Math.max(m, Math.abs(h[i]));
  return m;
}

/** The input as a grey PNG (min → black, max → white), upscaled like the heat maps */
export function greyPng(x: ArrayLike<number>, height: number, width: number, minSize = 224): Buffer {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < height * width; i++) {
    lo = Math.min(lo, x[i]);
    hi = Math.max(hi, x[i]);
  }
  const scale = Math.max(1, Math.ceil(minSize / Math.max(height, width)));
  const png = new PNG({ width: width * scale, height: height * scale });
  for (let y = 0; y < height * scale; y++)
    for (let xx = 0; xx < width * scale; xx++) {
      const v = x[Math.floor(y / scale) * width + Math.floor(xx / scale)];
      const g = hi > lo ? Math.round((255 * (v - lo)) / (hi - lo)) : 0;
      const o = (y * width * scale + xx) * 4;
      png.data[o] = g;
      png.data[o + 1] = g;
      png.data[o + 2] = g;
      png.data[o + 3] = 255;
    }
  return PNG.sync.write(png);
}

const esc = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function formatLimit(v: number): string {
  if (v === 0) return '0';
  return Math.abs(v) >= 1e4 || Math.abs(v) < 1e-3 ? v.toExponential(2) : Number(v.toPrecision(3)).toString();
}

/** A vertical colour bar from −limit (blue) to +limit (red) with its value labels, as SVG elements */
export function colourBarSvgElements(
  x: number,
  y: number,
  height: number,
  limit: number,
  id: string,
): string {
  const stops = [1, 0.5, 0, -0.5, -1] // top (+limit, red) to bottom; offsets must increase
    .map((t) => {
      const [r, g, b] = diverging(t);
      return `<stop offset="${((1 - t) / 2) * 100}%" stop-color="rgb(${r},${g},${b})"/>`;
    })
    .join('');
  const label = (ty: number, text: string) =>
    `<text x="${x + 24}" y="${ty}" font-size="12" dominant-baseline="middle">${esc(text)}</text>`;
  return [
    `<defs><linearGradient id="${id}" x1="0" y1="0" x2="0" y2="1">${stops}</linearGradient></defs>`,
    `<rect x="${x}" y="${y}" width="16" height="${height}" fill="url(#${id})" stroke="#888"/>`,
    label(y + 6, `+${formatLimit(limit)}`),
    label(y + height / 2, '0'),
    label(y + height - 6, `−${formatLimit(limit)}`),
  ].join('');
}

/**
 * One figure: the input, then each heat map with its own colour bar (its value range: every map
 * is scaled to its own max |h|), with titles, as an SVG; cells wrap to rows of at most `maxWidth`.
 */
export function heatmapPanelSvg(opts: {
  input?: { png: Buffer; title: string };
  maps: { png: Buffer; title: string; limit: number }[];
  size?: number;
  maxWidth?: number;
}): string {
  const S = opts.size ?? 168;
  const maxWidth = opts.maxWidth ?? 1120;
  const top = 22;
  const rowH = top + S + 12;
  const uri = (b: Buffer) => `data:image/png;base64,${b.toString('base64')}`;
  const cells = [
    ...(opts.input ? [{ ...opts.input, limit: undefined as number | undefined }] : []),
    ...opts.maps,
  ].map((c) => ({ ...c, width: c.limit === undefined ? S + 14 : S + 6 + 80 }));
  const parts: string[] = [];
  let x = 0;
  let y = 0;
  let width = 0;
  cells.forEach((c, i) => {
    if (x > 0 && x + c.width > maxWidth) {
      x = 0;
      y += rowH;
    }
    parts.push(`<text x="${x}" y="${y + 15}" font-size="13" font-weight="bold">${esc(c.title)}</text>`);
    parts.push(
      `<image x="${x}" y="${y + top}" width="${S}" height="${S}" href="${uri(c.png)}" style="image-rendering:pixelated"/>`,
    );
    if (c.limit !== undefined) parts.push(colourBarSvgElements(x + S + 6, y + top, S, c.limit, `cb${i}`));
    x += c.width;
    width = Math.max(width, x);
  });
  const h = y + rowH;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${h}" viewBox="0 0 ${width} ${h}" font-family="${PLOT_FONT}"><rect width="${width}" height="${h}" fill="white"/>${parts.join('')}</svg>`;
}
