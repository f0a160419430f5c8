/**
 * The browser's src/metrics/opencv-node.ts (a Vite alias in web/vite.config.ts), so that
 * src/metrics/telea.ts is the same on both platforms. OpenCV.js is an Emscripten script that
 * assigns globals and breaks when bundled as a strict ES module, so it is loaded as a classic
 * script from the copy the build emits (opencv/opencv.js) and read from `globalThis.cv`.
 * The module is returned wrapped: it has a `.then` that never settles (ENGINE-NOTES §6.10).
 */
export async function openCvModule(): Promise<{ cv: unknown }> {
  await new Promise<void>((resolve, reject) => {
    const s = document.createElement('script');
    s.src = new URL('./opencv/opencv.js', document.baseURI).href;
    s.onload = () => resolve();
    s.onerror = () => reject(new Error(`could not load ${s.src}`));
    document.head.append(s);
  });
  return { cv: (globalThis as unknown as { cv: unknown }).cv };
}
