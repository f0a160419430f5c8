/**
 * Build of the browser lab (`npm run build:web` → dist/web/, relative URLs so that the folder
 * works as plain static files anywhere). Besides the app it emits, as files of their own:
 * - onnxruntime-web's unbundled module, its worker/glue module and .wasm (ort/): loaded at run time
 *   so that WASM threads can start their workers from the real files, fully offline;
 * - OpenCV.js (opencv/opencv.js), loaded as a classic script by web/src/opencv-browser.ts;
 * - the shipped model (models/mnist-cnn.onnx) and the first 100 test digits of the fixed split
 *   (digits.bin: float32 [100, 784]; digits.json: labels and the split hash), from src/data/mnist.ts.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';
import { mnistSplit } from '../src/data/mnist.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const LAB_DIGITS = 100;
const ORT_FILES = ['ort.min.mjs', 'ort-wasm-simd-threaded.jsep.mjs', 'ort-wasm-simd-threaded.jsep.wasm'];

function labAssets(): Plugin {
  return {
    name: 'xspectra-lab-assets',
    apply: 'build',
    generateBundle() {
      const require = createRequire(import.meta.url);
      const ortDir = dirname(require.resolve('onnxruntime-web/ort-wasm-simd-threaded.jsep.wasm'));
      for (const f of ORT_FILES)
        this.emitFile({ type: 'asset', fileName: `ort/${f}`, source: readFileSync(join(ortDir, f)) });
      this.emitFile({
        type: 'asset',
        fileName: 'opencv/opencv.js',
        source: readFileSync(require.resolve('@techstark/opencv-js')),
      });
      this.emitFile({
        type: 'asset',
        fileName: 'mnist-cnn.onnx',
        source: readFileSync(join(ROOT, 'models', 'mnist-cnn.onnx')),
      });
      const { test, splitHash, seed } = mnistSplit();
      const images = test.images.slice(0, LAB_DIGITS * 784);
      this.emitFile({
        type: 'asset',
        fileName: 'digits.bin',
        source: new Uint8Array(images.buffer, images.byteOffset, images.byteLength),
      });
      const labels = Array.from(test.labels.subarray(0, LAB_DIGITS));
      this.emitFile({
        type: 'asset',
        fileName: 'digits.json',
        source: JSON.stringify({ n: LAB_DIGITS, shape: [1, 28, 28], labels, splitHash, seed }),
      });
    },
  };
}

export default defineConfig({
  root: join(ROOT, 'web'),
  base: './',
  publicDir: false,
  logLevel: 'warn',
  build: {
    outDir: join(ROOT, 'dist', 'web'),
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 10_000,
    reportCompressedSize: false,
    // copying the 36 MB of assets makes rolldown print plugin timings on every build
    rolldownOptions: { checks: { pluginTimings: false } },
  },
  resolve: {
    alias: [{ find: /^\.\/opencv-node\.js$/, replacement: join(ROOT, 'web', 'src', 'opencv-browser.ts') }],
  },
  plugins: [labAssets()],
});
