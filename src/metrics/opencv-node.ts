/**
 * Node only: OpenCV.js from @techstark/opencv-js via require (an `import()` of it would hand its
 * `.then` to the promise machinery — and in vitest's interop it does: the import never settles).
 * The browser lab's build replaces this file with web/src/opencv-browser.ts (a Vite alias).
 * Returns the module wrapped in an object, never the module itself (it is a thenable).
 */
import { createRequire } from 'node:module';

export async function openCvModule(): Promise<{ cv: unknown }> {
  return { cv: createRequire(import.meta.url)('@techstark/opencv-js') };
}
