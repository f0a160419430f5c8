import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

// The WebGPU tests run on a software GPU (Mesa lavapipe, scripts/install-lavapipe.sh → .lavapipe/).
// The variables must be set before the test workers start: the dynamic linker reads
// LD_LIBRARY_PATH only at process start, and the workers (pool 'forks') inherit this environment.
const lavapipe = join(import.meta.dirname, '.lavapipe');
if (existsSync(join(lavapipe, 'lvp.json'))) {
  process.env.VK_DRIVER_FILES = join(lavapipe, 'lvp.json');
  const lib = join(lavapipe, 'root', 'usr', 'lib', 'x86_64-linux-gnu');
  process.env.LD_LIBRARY_PATH = [lib, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':');
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
}

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
