/**
 * Spectral decomposition of an explanation (paper eq. 10, DESIGN §1.4):
 * R·y = Σ_i σ_i (v_iᵀ y) u_i = Σ_i (R v_i)(v_iᵀ y). Returns the first m terms and the remainder;
 * they sum to R·y exactly (the remainder is computed as the difference).
 */
import { applyMany, asStore, type RStore } from './r-store.js';
import { rightSingularVector, type Svd } from './svd.js';

export interface Decomposition {
  explanation: Float64Array;
  components: Float64Array[];
  /** v_iᵀ y · σ_i: the weight of each component */
  weights: number[];
  remainder: Float64Array;
}

export function decompose(
  R: Float64Array | Float32Array | RStore,
  svd: Svd,
  y: ArrayLike<number>,
  m = 8,
): Decomposition {
  const { d, c, r } = svd;
  if (y.length !== c) throw new Error(`readout has ${y.length} entries, R has ${c} columns`);
  const store = asStore(R, d, c);
  const vs = Array.from({ length: Math.min(m, r) }, (_, i) => rightSingularVector(svd, i));
  // one pass over R for the explanation and every component (R may be on disk)
  const [explanation, ...products] = applyMany(store, [y, ...vs]);
  const components: Float64Array[] = [];
  const weights: number[] = [];
  const remainder = Float64Array.from(explanation);
  vs.forEach((v, i) => {
    let vy = 0;
    for (let a = 0; a < c; a++) vy += v[a] * y[a];
    const comp = products[i];
    for (let q = 0; q < d; q++) {
      comp[q] *= vy;
      remainder[q] -= comp[q];
    }
    components.push(comp);
    weights.push(svd.singularValues[i] * vy);
  });
  return { explanation, components, weights, remainder };
}

/** Readouts (DESIGN §1.2): class k → f_k e_k; k against l → f_k e_k − f_l e_l. */
export function readout(outputs: number[], columns: number[], k: number, l?: number): Float64Array {
  const y = new Float64Array(columns.length);
  const jk = columns.indexOf(k);
  if (jk < 0) throw new Error(`class ${k} is not a column of R (inactive and dropped?)`);
  y[jk] = outputs[k];
  if (l !== undefined) {
    const jl = columns.indexOf(l);
    if (jl < 0) throw new Error(`class ${l} is not a column of R (inactive and dropped?)`);
    y[jl] = -outputs[l];
  }
  return y;
}
