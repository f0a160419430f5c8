/**
 * Heat maps as PNG (pngjs): a diverging colour map centred at 0 (blue < 0 < red, white at 0,
 * symmetric in max|h|), with the input drawn faintly underneath, upscaled by nearest neighbour.
 */
import { PNG } from 'pngjs';

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
