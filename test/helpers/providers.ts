/**
 * Which ONNX Runtime providers the parity tests run on. WebGPU runs on a software GPU (Mesa
 * lavapipe, installed by scripts/install-lavapipe.sh into .lavapipe/, loaded by vitest.config.ts).
 * CI (CI=true) always runs both, so a missing driver fails there; elsewhere XS_PROVIDERS=cpu
 * limits a run to the CPU half.
 */
export type Provider = 'cpu' | 'webgpu';

export const PROVIDERS: Provider[] =
  process.env.CI === 'true'
    ? ['cpu', 'webgpu']
    : (process.env.XS_PROVIDERS ?? 'cpu,webgpu').split(',').map((p) => {
        if (p !== 'cpu' && p !== 'webgpu') throw new Error(`XS_PROVIDERS: "${p}" is not cpu or webgpu`);
        return p;
      });

export const WEBGPU_HINT =
  'the WebGPU tests need a Vulkan driver: run scripts/install-lavapipe.sh (Mesa 25 lavapipe, a ' +
  'software GPU, into .lavapipe/; no root needed) or limit the run with XS_PROVIDERS=cpu';
