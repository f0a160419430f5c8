/**
 * Telea inpainting through OpenCV's own implementation (OpenCV.js from @techstark/opencv-js
 * 4.5.2, which bundles OpenCV 4.5.1: bit-identical to cv2 4.6 on the fixtures, ENGINE-NOTES §5).
 * The Emscripten module exposes `.then`, so it must never be awaited directly: we poll for cv.Mat.
 * The module comes from ./opencv-node.ts (require), which the browser lab's build swaps for a
 * script loader, so this file is platform-neutral; it is loaded when pixel flipping first runs.
 */

// biome-ignore lint/suspicious/noExplicitAny: OpenCV.js has no usable type declarations
type Cv = any;
let cvPromise: Promise<{ cv: Cv }> | undefined;

async function waitForOpenCv(): Promise<{ cv: Cv }> {
  const { openCvModule } = await import('./opencv-node.js');
  const { cv } = (await openCvModule()) as { cv: Cv };
  const start = Date.now();
  while (!(cv.Mat && typeof cv.inpaint === 'function')) {
    if (Date.now() - start > 120_000) throw new Error('OpenCV.js did not initialise within 120 s');
    await new Promise((r) => setTimeout(r, 5));
  }
  return { cv };
}

export function loadOpenCv(): Promise<{ cv: Cv }> {
  cvPromise ??= waitForOpenCv();
  return cvPromise;
}

/** Run cv.inpaint (Telea) on one image; `type` is the OpenCV type name, `read` copies the result out. */
async function inpaint<T>(
  type: 'CV_32F' | 'CV_8UC3',
  src: ArrayLike<number>,
  mask: Uint8Array,
  h: number,
  w: number,
  radius: number,
  read: (dst: Cv) => T,
): Promise<T> {
  const { cv } = await loadOpenCv();
  const s = cv.matFromArray(h, w, cv[type], Array.from(src));
  const m = cv.matFromArray(h, w, cv.CV_8U, Array.from(mask));
  const dst = new cv.Mat();
  try {
    cv.inpaint(s, m, dst, radius, cv.INPAINT_TELEA);
    return read(dst);
  } finally {
    s.delete();
    m.delete();
    dst.delete();
  }
}

/** Inpaint a single-channel float32 image (H×W) where mask ≠ 0. */
export function inpaintGray32(
  src: Float32Array,
  mask: Uint8Array,
  h: number,
  w: number,
  radius: number,
): Promise<Float32Array> {
  return inpaint('CV_32F', src, mask, h, w, radius, (dst) => Float32Array.from(dst.data32F));
}

/** Inpaint an 8-bit RGB image (H×W×3, interleaved) where mask ≠ 0. */
export function inpaintRgb8(
  src: Uint8Array,
  mask: Uint8Array,
  h: number,
  w: number,
  radius: number,
): Promise<Uint8Array> {
  return inpaint('CV_8UC3', src, mask, h, w, radius, (dst) => Uint8Array.from(dst.data));
}
