/** Heat maps and the colour bar on canvases (one canvas pixel per feature, scaled up by CSS). */

/** Diverging colour map, blue < 0 < red, white at 0 (as the CLI's PNG heat maps). */
export function colour(t: number): [number, number, number] {
  const a = Math.min(1, Math.abs(t));
  const end = t >= 0 ? [178, 24, 43] : [33, 102, 172];
  return [0, 1, 2].map((c) => Math.round(255 + (end[c] - 255) * a)) as [number, number, number];
}

export function maxAbs(maps: ArrayLike<number>[]): number {
  let m = 0;
  for (const h of maps) for (let i = 0; i < h.length; i++) m = Math.max(m, Math.abs(h[i]));
  return m;
}

/** Paint a heat map h [H·W] with colour limit lim (symmetric around 0). */
export function paintHeatmap(
  canvas: HTMLCanvasElement,
  h: ArrayLike<number>,
  H: number,
  W: number,
  lim: number,
) {
  canvas.width = W;
  canvas.height = H;
  const ctx = canvas.getContext('2d')!;
  const img = ctx.createImageData(W, H);
  for (let i = 0; i < H * W; i++) {
    const [r, g, b] = colour(lim > 0 ? h[i] / lim : 0);
    img.data.set([r, g, b, 255], 4 * i);
  }
  ctx.putImageData(img, 0, 0);
}

/** Paint a model input (channels averaged, min-max scaled) as a grey image. */
export function paintInput(canvas: HTMLCanvasElement, x: Float32Array, C: number, H: number, W: number) {
  canvas.width = W;
  canvas.height = H;
  const n = H * W;
  const g = new Float32Array(n);
  for (let c = 0; c < C; c++) for (let i = 0; i < n; i++) g[i] += x[c * n + i] / C;
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const v of g) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  const ctx = canvas.getContext('2d')!;
  const img = ctx.createImageData(W, H);
  for (let i = 0; i < n; i++) {
    const v = Math.round(hi > lo ? (255 * (g[i] - lo)) / (hi - lo) : 0);
    img.data.set([v, v, v, 255], 4 * i);
  }
  ctx.putImageData(img, 0, 0);
}

export function paintColourBar(canvas: HTMLCanvasElement) {
  canvas.width = 256;
  canvas.height = 1;
  const ctx = canvas.getContext('2d')!;
  const img = ctx.createImageData(256, 1);
  for (let i = 0; i < 256; i++) img.data.set([...colour((i - 127.5) / 127.5), 255], 4 * i);
  ctx.putImageData(img, 0, 0);
}

/** Whether a canvas holds more than one colour (a blank canvas is an error in the tests). */
export function canvasIsBlank(canvas: HTMLCanvasElement): boolean {
  const ctx = canvas.getContext('2d')!;
  const d = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  for (let i = 4; i < d.length; i += 4)
    if (d[i] !== d[0] || d[i + 1] !== d[1] || d[i + 2] !== d[2] || d[i + 3] !== d[3]) return false;
  return true;
}
