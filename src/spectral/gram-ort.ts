/**
 * RᵀR on ONNX Runtime (multi-threaded MatMul in float64 after an exact float32→float64 cast),
 * for ImageNet-size R where the JS loop would take minutes. R's entries are rounded to float32
 * on the way in (R comes from float32 attributions, so this loses nothing of substance).
 */
import { GraphBuilder } from '../propagate/builder.js';
import type { Engine, Session } from '../runtime/engine.js';
import type { GramFn } from './svd.js';

let cached: { engine: Engine; session: Promise<Session> } | undefined;

export function gramOnEngine(engine: Engine): GramFn {
  return async (R, d, c) => {
    if (!cached || cached.engine !== engine) {
      const g = new GraphBuilder();
      const r = g.input({ name: 'R', dims: ['d', 'c'] });
      const r64 = g.op('Cast', [r], { to: 11 });
      const gram = g.op('MatMul', [g.op('Transpose', [r64], { perm: [1, 0] }), r64]);
      // split back into the float32 high part and the float32 remainder: exact float64 transport
      const hi = g.op('Cast', [gram], { to: 1 });
      const lo = g.op('Cast', [g.op('Sub', [gram, g.op('Cast', [hi], { to: 11 })])], { to: 1 });
      g.output(hi, { as: 'hi', dims: ['c', 'c'] });
      g.output(lo, { as: 'lo', dims: ['c', 'c'] });
      cached = { engine, session: engine.createSession(g.build('gram')) };
    }
    const s = await cached.session;
    const data = R instanceof Float32Array ? R : Float32Array.from(R);
    const out = await s.run({ R: { dims: [d, c], data } });
    const G = new Float64Array(c * c);
    for (let i = 0; i < c * c; i++) G[i] = out.hi.data[i] + out.lo.data[i];
    return G;
  };
}
