/**
 * The lab's view as plain data, mirrored in the URL (`?digit=0&method=lrp&composite=mnist-paper
 * &gamma=0.25…`) so that a link reproduces it. Unknown or malformed values are reported, not
 * silently replaced.
 */
export const LAB_METHODS = ['lrp', 'gradient', 'gi', 'sg', 'ig'] as const;
export type LabMethod = (typeof LAB_METHODS)[number];
export const LAB_COMPOSITES = ['mnist-paper', 'gamma-all', 'epsilon-gamma-box', 'vgg16-paper'] as const;

export interface LabState {
  /** test digit 0..99, or -1 for a drawn / dropped image */
  digit: number;
  method: LabMethod;
  composite: string;
  gamma: number;
  noise: number;
  samples: number;
  steps: number;
  seed: number;
  provider: 'wasm' | 'webgpu';
}

export const DEFAULT_STATE: LabState = {
  digit: 0,
  method: 'lrp',
  composite: 'mnist-paper',
  gamma: 0.25,
  noise: 0.1,
  samples: 10,
  steps: 10,
  seed: 0,
  provider: 'wasm',
};

/** Parse the query string; returns the state and one message per rejected parameter. */
export function stateFromUrl(search: string): { state: LabState; problems: string[] } {
  const q = new URLSearchParams(search);
  const state = { ...DEFAULT_STATE };
  const problems: string[] = [];
  const numberParam = (key: keyof LabState, ok: (v: number) => boolean) => {
    const raw = q.get(key);
    if (raw === null) return;
    const v = raw === 'inf' ? Number.POSITIVE_INFINITY : Number(raw);
    if (raw.trim() === '' || !ok(v)) problems.push(`URL parameter ${key}=${raw} is not valid`);
    else (state as unknown as Record<string, number>)[key] = v;
  };
  numberParam('digit', (v) => Number.isInteger(v) && v >= -1 && v < 100);
  numberParam('gamma', (v) => v >= 0);
  numberParam('noise', (v) => v > 0 && Number.isFinite(v));
  numberParam('samples', (v) => Number.isInteger(v) && v >= 1 && v <= 1000);
  numberParam('steps', (v) => Number.isInteger(v) && v >= 1 && v <= 1000);
  numberParam('seed', (v) => Number.isInteger(v) && v >= 0);
  const method = q.get('method');
  if (method !== null) {
    if ((LAB_METHODS as readonly string[]).includes(method)) state.method = method as LabMethod;
    else problems.push(`URL parameter method=${method}: one of ${LAB_METHODS.join(', ')}`);
  }
  const composite = q.get('composite');
  if (composite !== null) state.composite = composite; // custom specs are checked by the core
  const provider = q.get('provider');
  if (provider !== null) {
    if (provider === 'wasm' || provider === 'webgpu') state.provider = provider;
    else problems.push(`URL parameter provider=${provider}: wasm or webgpu`);
  }
  return { state, problems };
}

export function stateToUrl(s: LabState): string {
  const q = new URLSearchParams();
  q.set('digit', String(s.digit));
  q.set('method', s.method);
  if (s.method === 'lrp') {
    q.set('composite', s.composite);
    q.set('gamma', Number.isFinite(s.gamma) ? String(s.gamma) : 'inf');
  }
  if (s.method === 'sg') {
    q.set('noise', String(s.noise));
    q.set('samples', String(s.samples));
    q.set('seed', String(s.seed));
  }
  if (s.method === 'ig') q.set('steps', String(s.steps));
  if (s.provider !== 'wasm') q.set('provider', s.provider);
  return `?${q.toString()}`;
}

/** The swept parameter of a method, if it has one the lab can plot against. */
export function sweptParameter(m: LabMethod): 'gamma' | 'noise' | undefined {
  return m === 'lrp' ? 'gamma' : m === 'sg' ? 'noise' : undefined;
}

/**
 * Grids of the live curves, which are also the γ slider's positions: γ = 0, quarter decades
 * 1e-3 … 1e3 (two significant digits) and the paper's 0.25. γ is compiled into the LRP graph, so
 * every new γ costs a graph and a session (~0.3-0.8 s here); once the background curve has visited
 * the grid, every slider position is a cached session. Noise: 0.01 … 1 in third decades.
 */
export const GAMMA_GRID = [
  0,
  0.25,
  ...Array.from({ length: 25 }, (_, i) => Number((10 ** (-3 + i / 4)).toPrecision(2))),
].sort((a, b) => a - b);
export const NOISE_GRID = Array.from({ length: 7 }, (_, i) => Number((10 ** (-2 + i / 3)).toPrecision(2)));

/** Index of the grid value nearest to v on a log scale (0 → index 0). */
export function nearestIndex(grid: number[], v: number): number {
  const l = (g: number) => (g <= 0 ? -99 : Math.log10(g));
  let best = 0;
  for (let i = 1; i < grid.length; i++)
    if (Math.abs(l(grid[i]) - l(v)) < Math.abs(l(grid[best]) - l(v))) best = i;
  return best;
}
