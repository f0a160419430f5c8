/**
 * Pixel flipping (DESIGN §1.6): pixels ordered by the heat map (descending; ties → lower index),
 * budget B = floor(fraction·H·W), T cumulative steps n_t = round-half-up(t·B/T), each x_t the
 * Telea inpainting of the ORIGINAL image with the first n_t pixels masked; y_t = f_k(x_t) for the
 * predicted class k. All T+1 images go through the model as one batch. AUC by the trapezoid rule
 * over t/T ∈ [0,1]; lower is better.
 */
import type { Preset } from '../methods/presets.js';
import { argmax } from '../methods/types.js';
import type { ModelRunner } from '../runtime/runner.js';
import { inpaintGray32, inpaintRgb8 } from './telea.js';

export interface PixelFlippingOptions {
  fraction?: number;
  steps?: number;
  /** Telea radius (default 3 for 1-channel inputs, 5 for RGB) */
  radius?: number;
  /** evaluate softmax probabilities instead of logits */
  softmax?: boolean;
  /** class to track (default: predicted) */
  target?: number;
  /** explicit pixel order (tests use the fixtures' stored order) */
  order?: Int32Array;
  /** RGB models: the normalisation to undo before 8-bit inpainting */
  preset?: Preset;
}

export interface PixelFlippingResult {
  target: number;
  budget: number;
  counts: number[];
  curve: number[];
  auc: number;
  aucNorm: number;
  order: Int32Array;
  radius: number;
}

export function flipOrder(h: ArrayLike<number>): Int32Array {
  const idx = Array.from({ length: h.length }, (_, i) => i);
  idx.sort((a, b) => h[b] - h[a] || a - b);
  return Int32Array.from(idx);
}

export function trapezoid(y: number[]): number {
  const T = y.length - 1;
  let s = 0;
  for (let t = 0; t < T; t++) s += (y[t] + y[t + 1]) / 2;
  return s / T;
}

export async function pixelFlipping(
  runner: ModelRunner,
  x: Float32Array,
  heatmap: ArrayLike<number>,
  opts: PixelFlippingOptions = {},
): Promise<PixelFlippingResult> {
  const shape = runner.model.inputShape;
  if (shape.length !== 3) throw new Error('pixel flipping needs a C×H×W image model');
  const [C, H, W] = shape;
  if (heatmap.length !== H * W)
    throw new Error(`heat map has ${heatmap.length} values, the image has ${H}×${W} pixels`);
  for (let i = 0; i < heatmap.length; i++)
    if (!Number.isFinite(heatmap[i])) throw new Error(`heat map contains ${heatmap[i]} at pixel ${i}`);
  const fraction = opts.fraction ?? 0.05;
  const T = opts.steps ?? 20;
  const radius = opts.radius ?? (C === 1 ? 3 : 5); // MNIST-like grey inputs 3, RGB (ImageNet) 5
  const B = Math.floor(fraction * H * W);
  const counts = Array.from({ length: T + 1 }, (_, t) => Math.floor((2 * t * B + T) / (2 * T)));
  const order = opts.order ?? flipOrder(heatmap);
  const d = C * H * W;
  const batch = new Float32Array((T + 1) * d);
  batch.set(x, 0);
  const mask = new Uint8Array(H * W);
  let u8: Uint8Array | undefined;
  if (C === 3) {
    const p = opts.preset;
    if (!p) throw new Error('pixel flipping on RGB models needs the preprocessing preset');
    u8 = new Uint8Array(H * W * 3);
    for (let c = 0; c < 3; c++)
      for (let q = 0; q < H * W; q++)
        u8[q * 3 + c] = Math.min(
          255,
          Math.max(0, Math.round((x[c * H * W + q] * p.std[c] + p.mean[c]) * 255)),
        );
  } else if (C !== 1) throw new Error(`pixel flipping supports 1- or 3-channel inputs, not ${C}`);
  for (let t = 1; t <= T; t++) {
    for (let r = counts[t - 1]; r < counts[t]; r++) mask[order[r]] = 255;
    const dst = batch.subarray(t * d, (t + 1) * d);
    if (C === 1) dst.set(await inpaintGray32(x, mask, H, W, radius));
    else {
      const out = await inpaintRgb8(u8!, mask, H, W, radius);
      const p = opts.preset!;
      for (let c = 0; c < 3; c++)
        for (let q = 0; q < H * W; q++)
          dst[c * H * W + q] = Math.fround(Math.fround(out[q * 3 + c] / 255 - p.mean[c]) / p.std[c]);
    }
  }
  const logits = await runner.forward(batch, T + 1);
  const c = runner.outputSize;
  const target = opts.target ?? argmax(logits.subarray(0, c));
  const curve = Array.from({ length: T + 1 }, (_, t) => {
    if (!opts.softmax) return logits[t * c + target];
    let mx = Number.NEGATIVE_INFINITY;
    for (let k = 0; k < c; k++) mx = Math.max(mx, logits[t * c + k]);
    let z = 0;
    for (let k = 0; k < c; k++) z += Math.exp(logits[t * c + k] - mx);
    return Math.exp(logits[t * c + target] - mx) / z;
  });
  const auc = trapezoid(curve);
  return {
    target,
    budget: B,
    counts,
    curve,
    auc,
    aucNorm: trapezoid(curve.map((v) => v / curve[0])),
    order: order.slice(0, B),
    radius,
  };
}
