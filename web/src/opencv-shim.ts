/**
 * Stands in for `@techstark/opencv-js` in the browser build (a Vite alias), so that
 * src/metrics/telea.ts stays the same on both platforms. OpenCV.js is an Emscripten script that
 * assigns globals and breaks when bundled as a strict ES module, so it is loaded as a classic
 * script from the copy the build emits (opencv/opencv.js) and read from `globalThis.cv`.
 * Never await the module itself: it has a `.then` that never settles (ENGINE-NOTES §6.10).
 */
await new Promise<void>((resolve, reject) => {
  const s = document.createElement('script');
  s.src = new URL('./opencv/opencv.js', document.baseURI).href;
  s.onload = () => resolve();
  s.onerror = () => reject(new Error(`could not load ${s.src}`));
  document.head.append(s);
});

export default (globalThis as unknown as { cv: unknown }).cv;
