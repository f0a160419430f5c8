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

/** An image that cannot be used; the message names the file */
export class ImageError extends Error {}

/** Bytes held per pixel while decoding and preprocessing (RGBA + RGB + float32 RGB resize + output) */
export const IMAGE_BYTES_PER_PIXEL = 32;
/** The default memory budget of a run (runtime/runner.ts), repeated to keep this module free of the runtime */
const DEFAULT_IMAGE_BUDGET = 2 * 1024 ** 3;

const be16 = (b: Uint8Array, i: number) => (b[i] << 8) | b[i + 1];
const be32 = (b: Uint8Array, i: number) =>
  ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;

/**
 * Width and height from the PNG IHDR chunk or the JPEG frame header, WITHOUT decoding: the size
 * check happens before the decoder allocates anything. Also refuses a PNG without its IEND chunk
 * (a truncated file that pngjs would otherwise decode to zeros).
 */
export function imageDimensions(bytes: Uint8Array, name: string): { width: number; height: number } {
  if (bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) {
    if (bytes.length < 33 || String.fromCharCode(...bytes.subarray(12, 16)) !== 'IHDR')
      throw new ImageError(`${name}: PNG without an IHDR header`);
    const tail = String.fromCharCode(...bytes.subarray(bytes.length - 8, bytes.length - 4));
    if (tail !== 'IEND') throw new ImageError(`${name}: truncated PNG (no IEND chunk at the end)`);
    return { width: be32(bytes, 16), height: be32(bytes, 20) };
  }
  if (bytes.length >= 4 && bytes[0] === 0xff && bytes[1] === 0xd8) {
    let i = 2;
    while (i + 3 < bytes.length) {
      if (bytes[i] !== 0xff) throw new ImageError(`${name}: corrupt JPEG (no marker at byte ${i})`);
      const marker = bytes[i + 1];
      if (marker === 0xff) {
        i++;
        continue;
      }
      if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
        i += 2;
        continue;
      }
      const isFrame =
        marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
      if (isFrame) {
        if (i + 9 > bytes.length) break;
        return { width: be16(bytes, i + 7), height: be16(bytes, i + 5) };
      }
      if (marker === 0xd9 || marker === 0xda) break;
      i += 2 + be16(bytes, i + 2);
    }
    throw new ImageError(`${name}: JPEG without a frame header`);
  }
  throw new ImageError(`${name}: not a PNG or JPEG file`);
}

/** Decode PNG/JPEG bytes; dimensions are checked against `budgetBytes` before decoding */
export function decodeImageBytes(
  bytes: Uint8Array,
  name: string,
  budgetBytes = DEFAULT_IMAGE_BUDGET,
): RgbImage {
  const { width, height } = imageDimensions(bytes, name);
  if (width < 1 || height < 1) throw new ImageError(`${name}: image of ${width}×${height} pixels`);
  const need = width * height * IMAGE_BYTES_PER_PIXEL;
  if (need > budgetBytes)
    throw new ImageError(
      `${name}: ${width}×${height} pixels need about ${(need / 1024 ** 3).toPrecision(3)} GiB to decode, over the memory budget of ${(budgetBytes / 1024 ** 3).toPrecision(3)} GiB (raise --memory-budget)`,
    );
  let rgba: { width: number; height: number; data: Uint8Array };
  try {
    if (bytes[0] === 0x89)
      rgba = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    else
      rgba = jpeg.decode(bytes, {
        useTArray: true,
        formatAsRGBA: true,
        maxResolutionInMP: Math.ceil((width * height) / 1e6) + 1,
        maxMemoryUsageInMB: Math.ceil(budgetBytes / 1024 ** 2),
      });
  } catch (e) {
    throw new ImageError(`cannot decode image ${name}: ${(e as Error).message}`);
  }
  if (rgba.width !== width || rgba.height !== height || rgba.data.length < width * height * 4)
    throw new ImageError(
      `cannot decode image ${name}: decoded ${rgba.width}×${rgba.height}, header says ${width}×${height}`,
    );
  const n = rgba.width * rgba.height;
  const data = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) data[i * 3 + c] = rgba.data[i * 4 + c];
  return { width: rgba.width, height: rgba.height, data };
}

export function decodeImage(path: string, budgetBytes?: number): RgbImage {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new ImageError(`cannot read image ${path}: ${(e as Error).message}`);
  }
  return decodeImageBytes(bytes, path, budgetBytes);
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
