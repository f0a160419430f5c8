/**
 * Benchmark: thin SVD of a random 150,528 × 1,000 matrix (an ImageNet R with all classes),
 * as a ratio to one pass over the matrix (Σ R_ij², which reads every entry once), with the Gram
 * matrix computed in JS and on ONNX Runtime. Also checks the orthogonality of the singular vectors.
 * Run: npx tsx bench/spectrum.ts [--d 150528 --c 1000]
 */

import { Rng } from '../src/methods/random.js';
import { NodeEngine } from '../src/runtime/node.js';
import { gramOnEngine } from '../src/spectral/gram-ort.js';
import { orthogonalityError, thinSvd } from '../src/spectral/svd.js';
import { arg, report } from './common.js';

const d = arg('d', 150528);
const c = arg('c', 1000);
const rng = new Rng(1);
const R = new Float32Array(d * c);
for (let i = 0; i < R.length; i++) R[i] = rng.uniform() - 0.5;
let t = performance.now();
let fro = 0;
for (let i = 0; i < R.length; i++) fro += R[i] * R[i];
const pass = performance.now() - t;
process.stdout.write(`random ${d} × ${c} matrix (float32, ${((R.length * 4) / 1e9).toFixed(2)} GB)\n`);
report('one pass over R (Σ R²)', pass, pass, 'pass');
t = performance.now();
const svdOrt = await thinSvd(R, d, c, gramOnEngine(new NodeEngine()));
report('thin SVD, Gram on ONNX Runtime (float64)', performance.now() - t, pass, 'pass');
const sum2 = svdOrt.singularValues.reduce((a, s) => a + s * s, 0);
process.stdout.write(`  Σσ² vs ‖R‖_F²: relative difference ${Math.abs(sum2 - fro) / fro}\n`);
const orth = orthogonalityError(R, svdOrt, 8);
process.stdout.write(
  `  orthogonality of the first 8 singular vectors: |UᵀU−I| ${orth.u.toExponential(2)}, |VᵀV−I| ${orth.v.toExponential(2)}\n`,
);
if (!arg('skip-js', 0)) {
  t = performance.now();
  const svdJs = await thinSvd(R, d, c);
  report('thin SVD, Gram in JS (float64)', performance.now() - t, pass, 'pass');
  const diff = Math.max(
    ...svdJs.singularValues.map((s, i) => Math.abs(s - svdOrt.singularValues[i]) / svdOrt.singularValues[0]),
  );
  process.stdout.write(`  JS vs ORT singular values: max difference / σ1 ${diff.toExponential(2)}\n`);
}
