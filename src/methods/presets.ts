/**
 * Preprocessing presets: how raw images map to model inputs, and therefore what a black image
 * (the IG/Shapley baseline) and the pixel-value box (z^B bounds) are in model-input space.
 */
export type PresetName = 'mnist' | 'imagenet' | 'none';

export interface Preset {
  name: PresetName;
  mean: number[];
  std: number[];
}

export const PRESETS: Record<PresetName, Preset> = {
  mnist: { name: 'mnist', mean: [0], std: [1] },
  imagenet: { name: 'imagenet', mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
  none: { name: 'none', mean: [0], std: [1] },
};

export function preset(name: string): Preset {
  const p = PRESETS[name as PresetName];
  if (!p) throw new Error(`unknown preprocessing preset "${name}" (mnist, imagenet, none)`);
  return p;
}

/** model-input value of pixel value v ∈ [0,1], per channel (float32 arithmetic as the fixtures) */
export function pixelValue(p: Preset, v: number, channels: number): number[] {
  return Array.from({ length: channels }, (_, c) => {
    const m = p.mean[c % p.mean.length];
    const s = p.std[c % p.std.length];
    return Math.fround(Math.fround(v - m) / s);
  });
}

/** Constant image with one value per channel */
export function channelImage(values: number[], shape: number[]): Float32Array {
  const [C, H, W] = shape.length === 3 ? shape : [1, 1, shape.reduce((a, b) => a * b, 1)];
  const out = new Float32Array(C * H * W);
  for (let c = 0; c < C; c++) out.fill(values[c % values.length], c * H * W, (c + 1) * H * W);
  return out;
}

/** Default preset for a model input shape: 1-channel → mnist, 3-channel → imagenet */
export function defaultPreset(shape: number[]): PresetName {
  return shape[0] === 3 ? 'imagenet' : shape[0] === 1 ? 'mnist' : 'none';
}
