/**
 * Warnings (stderr, never errors) for inputs that run but probably do not mean what the user
 * wants: a preprocessing preset made for another channel count, and inverted (white-background)
 * digits on an MNIST model, whose explanations would explain the background.
 */
import type { NamedInput } from './inputs.js';

export type Warn = (message: string) => void;
const stderrWarn: Warn = (m) => process.stderr.write(`warning: ${m}\n`);

const PRESET_CHANNELS: Record<string, number> = { mnist: 1, imagenet: 3 };

export function warnPresetMismatch(shape: number[], preset: string, warn: Warn = stderrWarn): void {
  const want = PRESET_CHANNELS[preset];
  const channels = shape.length === 3 ? shape[0] : 1;
  if (want !== undefined && channels !== want)
    warn(
      `--preprocess ${preset} is made for ${want}-channel inputs, the model takes [${shape}] (${channels} channel${channels === 1 ? '' : 's'}): "black", the z^B box and image decoding will not match`,
    );
}

/**
 * MNIST digits are white strokes on black: a 1-channel input whose border is mostly bright is
 * probably inverted (dark ink on white paper).
 */
export function warnInverted(inputs: NamedInput[], shape: number[], preset: string, warn: Warn = stderrWarn) {
  if (preset !== 'mnist' || shape.length !== 3 || shape[0] !== 1) return;
  const [, H, W] = shape;
  const inverted = inputs.filter((inp) => {
    let sum = 0;
    let n = 0;
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++)
        if (y < 2 || y >= H - 2 || x < 2 || x >= W - 2) {
          sum += inp.x[y * W + x];
          n++;
        }
    return sum / n > 0.5;
  });
  if (inverted.length)
    warn(
      `${inverted.length === 1 ? inverted[0].id : `${inverted.length} inputs (first ${inverted[0].id})`} look${inverted.length === 1 ? 's' : ''} inverted: the border is bright (mean > 0.5), MNIST digits are white on black; invert the image (1 − x) or the explanation describes the background`,
    );
}
