/**
 * Loads onnxruntime-web from the files the build copies to ort/ (never from a CDN): the page
 * works offline. WASM threads need SharedArrayBuffer, i.e. a cross-origin isolated page
 * (`xspectra lab` sends COOP/COEP); elsewhere ORT runs single-threaded.
 */
import type { OrtWeb } from '../../src/runtime/web.js';

export async function loadOrt(): Promise<{ ort: OrtWeb; threads: number }> {
  const base = new URL('./ort/', document.baseURI).href;
  const ort = (await import(/* @vite-ignore */ `${base}ort.min.mjs`)) as OrtWeb;
  ort.env.wasm.wasmPaths = base;
  const threads = globalThis.crossOriginIsolated
    ? Math.max(1, Math.min(4, navigator.hardwareConcurrency))
    : 1;
  ort.env.wasm.numThreads = threads;
  ort.env.logLevel = 'error';
  return { ort, threads };
}

/** Whether this browser offers a WebGPU adapter (ORT's WebGPU provider needs one). */
export async function hasWebGpu(): Promise<boolean> {
  const gpu = (navigator as Navigator & { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
  if (!gpu) return false;
  try {
    return (await gpu.requestAdapter()) != null;
  } catch {
    return false;
  }
}
