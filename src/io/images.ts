/**
 * Image decoding (pngjs, jpeg-js: maintained pure-JS decoders, no native build) and the
 * preprocessing presets: mnist (grey, 28×28, [0,1]) and imagenet (resize shorter side to 256,
 * centre crop 224, ImageNet mean/std). Resizing is bilinear (hand-written: ~20 lines, and
 * decoders ship none); torchvision's antialiased resize can differ by a few grey levels.
 */
import { readFileSync } from 'node:fs';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { preset } from '../methods/presets.js';

export interface RgbImage {
  width: number;
  height: number;
  /** RGB, row-major, 0..255 */
  data: Uint8Array;
}

export function decodeImage(path: string): RgbImage {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new Error(`cannot read image ${path}: ${(e as Error).message}`);
  }
  let rgba: { width: number; height: number; data: Uint8Array };
  try {
    if (bytes[0] === 0x89 && bytes[1] === 0x50) rgba = PNG.sync.read(bytes);
    else if (bytes[0] === 0xff && bytes[1] === 0xd8)
      rgba = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true });
    else throw new Error('not a PNG or JPEG file');
  } catch (e) {
    throw new Error(`cannot decode image ${path}: ${(e as Error).message}`);
  }
  const n = rgba.width * rgba.height;
  const data = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) data[i * 3 + c] = rgba.data[i * 4 + c];
  return { width: rgba.width, height: rgba.height, data };
}

function bilinear(img: RgbImage, w: number, h: number): Float32Array {
  const out = new Float32Array(w * h * 3);
  const sx = img.width / w;
  const sy = img.height / h;
  for (let y = 0; y < h; y++) {
    const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), img.height - 1);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, img.height - 1);
    const ty = fy - y0;
    for (let x = 0; x < w; x++) {
      const fx = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), img.width - 1);
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, img.width - 1);
      const tx = fx - x0;
      for (let c = 0; c < 3; c++) {
        const p = (yy: number, xx: number) => img.data[(yy * img.width + xx) * 3 + c];
        out[(y * w + x) * 3 + c] =
          (1 - ty) * ((1 - tx) * p(y0, x0) + tx * p(y0, x1)) + ty * ((1 - tx) * p(y1, x0) + tx * p(y1, x1));
      }
    }
  }
  return out;
}

/** Image → model input [C, H, W] for a preset and the model's input shape */
export function preprocessImage(img: RgbImage, presetName: string, shape: number[]): Float32Array {
  const p = preset(presetName);
  const [C, H, W] = shape;
  let pixels: Float32Array; // HWC, 0..255
  if (presetName === 'imagenet' && (img.width !== W || img.height !== H)) {
    const scale = 256 / Math.min(img.width, img.height);
    const rw = Math.round(img.width * scale);
    const rh = Math.round(img.height * scale);
    const resized = bilinear(img, rw, rh);
    const ox = Math.floor((rw - W) / 2);
    const oy = Math.floor((rh - H) / 2);
    pixels = new Float32Array(W * H * 3);
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++)
        for (let c = 0; c < 3; c++) pixels[(y * W + x) * 3 + c] = resized[((y + oy) * rw + x + ox) * 3 + c];
  } else {
    pixels = img.width === W && img.height === H ? Float32Array.from(img.data) : bilinear(img, W, H);
  }
  const out = new Float32Array(C * H * W);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const i = (y * W + x) * 3;
      const grey = (pixels[i] + pixels[i + 1] + pixels[i + 2]) / 3;
      for (let c = 0; c < C; c++) {
        const v = Math.fround((C === 1 ? grey : pixels[i + c]) / 255);
        out[c * H * W + y * W + x] = Math.fround(
          Math.fround(v - p.mean[c % p.mean.length]) / p.std[c % p.std.length],
        );
      }
    }
  }
  return out;
}
