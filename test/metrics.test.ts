/**
 * Baselines against the fixtures: Telea inpainting against OpenCV 4.6, pixel-flipping curves and
 * AUCs (with the stored pixel order, and our own order where the heat map has no near-ties), and
 * Shannon entropies of every fixture case.
 */
import { describe, expect, it } from 'vitest';
import { createMethod } from '../src/methods/factory.js';
import { PRESETS } from '../src/methods/presets.js';
import { oneHotSeeds } from '../src/methods/types.js';
import { channelSum, entropy } from '../src/metrics/entropy.js';
import { flipOrder, pixelFlipping } from '../src/metrics/pixel-flipping.js';
import { inpaintGray32, inpaintRgb8 } from '../src/metrics/telea.js';
import { inputs, type Json, manifest, npy, rel, runnerFor } from './helpers/fixtures.js';

const M = manifest();

describe('Telea inpainting (OpenCV.js) against cv2 4.6', () => {
  it('float32 MNIST pairs, radius 3, within 1e-5', async () => {
    const src = npy('inpaint/mnist.src.npy').data as Float32Array;
    const mask = npy('inpaint/mnist.mask.npy').data as Uint8Array;
    const out = npy('inpaint/mnist.out.npy').data as Float32Array;
    for (let j = 0; j < 6; j++) {
      const r = await inpaintGray32(
        src.subarray(j * 784, (j + 1) * 784),
        mask.subarray(j * 784, (j + 1) * 784),
        28,
        28,
        3,
      );
      for (let i = 0; i < 784; i++)
        expect(Math.abs(r[i] - out[j * 784 + i]), `pair ${j} pixel ${i}`).toBeLessThanOrEqual(1e-5);
    }
  });
  it('uint8 RGB pairs, radius 5: within 1/255 on ≥ 99.9% of pixels', async () => {
    const src = npy('inpaint/rgb.src.npy').data as Uint8Array;
    const mask = npy('inpaint/rgb.mask.npy').data as Uint8Array;
    const out = npy('inpaint/rgb.out.npy').data as Uint8Array;
    let ok = 0;
    let total = 0;
    for (let j = 0; j < 6; j++) {
      const r = await inpaintRgb8(
        src.subarray(j * 3072, (j + 1) * 3072),
        mask.subarray(j * 1024, (j + 1) * 1024),
        32,
        32,
        5,
      );
      for (let i = 0; i < 3072; i++) {
        total++;
        if (Math.abs(r[i] - out[j * 3072 + i]) <= 1) ok++;
      }
    }
    expect(ok / total).toBeGreaterThanOrEqual(0.999);
  });
});

function specOf(c: Json) {
  const p = c.params;
  if (c.method === 'lrp')
    return {
      method: 'lrp' as const,
      composite: p.composite,
      gamma: p.gamma,
      low: p.zbox_low,
      high: p.zbox_high,
    };
  if (c.method === 'gi') return { method: 'gi' as const };
  if (c.method === 'ig') return { method: 'ig' as const, steps: p.steps };
  return undefined; // SG: the noise is per image; covered by the parity test
}

const CASES: [string, Json][] = M.cases.filter((c: Json) => c.method !== 'sg').map((c: Json) => [c.id, c]);

describe.each(CASES)('%s: pixel flipping and entropy', (_id: string, c: Json) => {
  it('curve, AUCs and entropy match the reference', async () => {
    const runner = runnerFor(c.model);
    const { x, n, d } = inputs(c.model);
    const method = createMethod(runner, specOf(c)!);
    const order = npy(c.pixel_flipping.order.file).data as Int32Array;
    const curve = npy(c.pixel_flipping.curve.file).data as Float64Array;
    const C = runner.model.inputShape[0];
    const pf = c.pixel_flipping;
    for (let img = 0; img < n; img++) {
      const xi = x.slice(img * d, (img + 1) * d);
      const target = pf.target[img];
      const B = pf.budget;
      const res = await pixelFlipping(runner, xi, new Float64Array(d / C), {
        order: order.slice(img * B, (img + 1) * B),
        preset: PRESETS.imagenet,
      });
      expect(res.target).toBe(target);
      expect(res.counts).toEqual(pf.counts);
      const ref = Array.from(curve.subarray(img * 21, (img + 1) * 21));
      const scale = Math.max(...ref.map(Math.abs));
      for (const [t, v] of res.curve.entries()) {
        expect(Math.abs(v - ref[t]) / scale, `image ${img} t=${t}`).toBeLessThanOrEqual(
          c.tolerances.pixel_flipping.tol,
        );
      }
      expect(rel(res.auc, pf.auc_raw[img])).toBeLessThanOrEqual(c.tolerances.pixel_flipping.tol);
      expect(rel(res.aucNorm, pf.auc_norm[img])).toBeLessThanOrEqual(c.tolerances.pixel_flipping.tol);
      const { seeds, K } = oneHotSeeds(10, [target]);
      const ex = await method.attribute(xi, seeds, K);
      const h = channelSum(ex.attributions, C);
      expect(Math.abs(entropy(h) - c.entropy.values[img]), `image ${img} entropy`).toBeLessThanOrEqual(
        c.tolerances.entropy.tol,
      );
      if (pf.min_rel_gap_in_top_order[img] > 1e-4) {
        expect(Array.from(flipOrder(h).slice(0, B)), `image ${img} own order`).toEqual(
          Array.from(order.slice(img * B, (img + 1) * B)),
        );
      }
    }
  });
});

describe('entropy', () => {
  it('is 0 for one hot pixel, ln n for a uniform map, and scale invariant', () => {
    expect(entropy([0, 0, 5, 0])).toBe(0);
    expect(Math.abs(entropy([1, -1, 1, -1]) - Math.log(4))).toBeLessThan(1e-15);
    expect(entropy([1, 2, 3])).toBeCloseTo(entropy([-10, 20, 30]), 14);
    expect(() => entropy([0, 0])).toThrow(/all-zero/);
  });
});
