/**
 * Helpers for tensors in the seed-batched layout [B, K, ...feature dims]: B inputs (forward batch),
 * K seeds per input. Forward activations [B, ...] are broadcast as [B, 1, ...]; convolutions run
 * on the flattened [B·K, ...] view.
 */
import type { ConvOp, LinearOp, Model, PoolOp, Shape } from '../model/ir.js';
import { size } from '../model/ir.js';
import type { GraphBuilder } from './builder.js';
import { convAttrs, type ForwardValues } from './forward.js';

export class Seeded {
  private unsqCache = new Map<string, string>();
  readonly bkProd: string;

  constructor(
    readonly g: GraphBuilder,
    readonly model: Model,
    readonly fwd: ForwardValues,
    /** int64 [2] value holding [B, K] */
    readonly bk: string,
    /** always use ConvTranspose for conv backward passes (benchmark switch) */
    readonly forceConvTranspose = false,
  ) {
    this.bkProd = g.op('ReduceProd', [bk], { keepdims: 1 });
  }

  shape(tensor: string): Shape {
    return this.model.shapes.get(tensor)!;
  }

  /** [B, ...s] value → [B, 1, ...s] */
  unsq(value: string): string {
    let v = this.unsqCache.get(value);
    if (!v) {
      v = this.g.op('Unsqueeze', [value, this.g.ints([1])]);
      this.unsqCache.set(value, v);
    }
    return v;
  }

  act(tensor: string): string {
    return this.unsq(this.fwd.values.get(tensor)!);
  }

  // Shapes are explicit (no -1) and Reshape gets allowzero=1: a pass fed zero seeds (K = 0, the
  // idle branch of a combined session) must reshape to [0, ...], where -1 cannot be inferred and
  // a 0 in the shape would otherwise mean "copy this dimension from the input".
  /** [..., ...s] → [n, ...s] with n = (element count) / size(s), e.g. [B, K, ...s] → [B·K, ...s] */
  flat(v: string, s: Shape): string {
    const g = this.g;
    const n = g.op('Div', [g.op('ReduceProd', [g.op('Shape', [v])], { keepdims: 1 }), g.ints([size(s)])]);
    return g.op('Reshape', [v, g.op('Concat', [n, g.ints(s)], { axis: 0 })], { allowzero: 1 });
  }

  unflat(v: string, s: Shape): string {
    const shp = this.g.op('Concat', [this.bk, this.g.ints(s)], { axis: 0 });
    return this.g.op('Reshape', [v, shp], { allowzero: 1 });
  }

  /** [B, K, ...] expansion of a [B, 1, ...] value */
  expand(v: string, s: Shape): string {
    return this.g.op('Expand', [v, this.g.op('Concat', [this.bk, this.g.ints(s)], { axis: 0 })]);
  }

  zeros(s: Shape): string {
    const shp = this.g.op('Concat', [this.bkProd, this.g.ints([size(s)])], { axis: 0 });
    return this.g.op('Expand', [this.g.floats([0]), shp]);
  }

  /** max-pool Indices → [B·K, C·Ho·Wo] local (per-sample) flat indices */
  poolIndex(layerName: string, inShape: Shape, outShape: Shape): string {
    const idx = this.fwd.indices.get(layerName)!;
    const local = this.g.op('Mod', [idx, this.g.ints([size(inShape)], [])]);
    return this.flat(this.expand(this.unsq(local), outShape), [size(outShape)]);
  }

  /** stab(u) = u + ε·(sign(u) + [u = 0]) = u + ε·(u ≥ 0 ? 1 : −1) */
  stabilize(u: string, eps: number): string {
    const g = this.g;
    const ge = g.op('Cast', [g.op('GreaterOrEqual', [u, g.floats([0])])], { to: 1 });
    const sign = g.op('Sub', [g.op('Mul', [ge, g.floats([2])]), g.floats([1])]);
    return g.op('Add', [u, g.op('Mul', [sign, g.floats([eps])])]);
  }
}

/**
 * layerᵀ: the transpose of a Conv/Linear's linear part, applied in the seeded layout.
 * Stride-1, group-1 convs use a Conv with the transposed, flipped kernel; everything else
 * ConvTranspose with output_padding. Measured with bench/backward-variants.ts (2-core machine,
 * gradient, same run): flipped 1.84 ms vs ConvTranspose 4.17 ms (paper MNIST CNN, 10 seeds),
 * 41 vs 94 ms (fixture mnist-cnn, 64 seeds), 2.32 vs 3.03 s (VGG16, 8 seeds). Both are exact.
 */
export function applyTransposed(
  s: Seeded,
  op: ConvOp | LinearOp,
  w: string,
  v: string,
  inS: Shape,
  outS: Shape,
): string {
  const g = s.g;
  if (op.type === 'linear') return g.op('MatMul', [v, w]);
  const [kh, kw] = op.kernel;
  const [dh, dw] = op.dilations;
  const flipPads = [
    (kh - 1) * dh - op.pads[0],
    (kw - 1) * dw - op.pads[1],
    (kh - 1) * dh - op.pads[2],
    (kw - 1) * dw - op.pads[3],
  ];
  const flat = s.flat(v, outS);
  let r: string;
  const flipOk =
    op.strides[0] === 1 && op.strides[1] === 1 && op.group === 1 && flipPads.every((p) => p >= 0);
  if (flipOk && !s.forceConvTranspose) {
    const wt = g.op('Transpose', [w], { perm: [1, 0, 2, 3] });
    const flipped = g.op('Slice', [
      wt,
      g.ints([-1, -1]),
      g.ints([-(2 ** 62), -(2 ** 62)]),
      g.ints([2, 3]),
      g.ints([-1, -1]),
    ]);
    r = g.op('Conv', [flat, flipped], { kernel_shape: op.kernel, pads: flipPads, dilations: op.dilations });
  } else {
    const outPad = [0, 1].map(
      (ax) =>
        inS[ax + 1] -
        ((outS[ax + 1] - 1) * op.strides[ax] +
          (op.kernel[ax] - 1) * op.dilations[ax] +
          1 -
          op.pads[ax] -
          op.pads[ax + 2]),
    );
    r = g.op('ConvTranspose', [flat, w], { ...convAttrs(op), output_padding: outPad });
  }
  return s.unflat(r, inS);
}

/** The linear part of a Conv/Linear (no bias) applied in the seeded layout. */
export function applyLinear(
  s: Seeded,
  op: ConvOp | LinearOp,
  w: string,
  v: string,
  inS: Shape,
  outS: Shape,
): string {
  const g = s.g;
  // Gemm with transB reads W [out, in] as it is: a MatMul with Transpose(W) makes ONNX Runtime
  // constant-fold a transposed copy (VGG16: +0.5 GB per forward-mode session for the dense layers)
  if (op.type === 'linear') return s.unflat(g.op('Gemm', [s.flat(v, inS), w], { transB: 1 }), outS);
  return s.unflat(g.op('Conv', [s.flat(v, inS), w], convAttrs(op)), outS);
}

/** Divisor of each average-pool output (count_include_pad and ceil_mode as in PyTorch/ORT). */
export function avgPoolCounts(op: PoolOp, inS: Shape, outS: Shape): Float32Array {
  const [, h, w] = inS;
  const [, ho, wo] = outS;
  const c = new Float32Array(ho * wo);
  for (let i = 0; i < ho; i++) {
    for (let j = 0; j < wo; j++) {
      const h0 = i * op.strides[0] - op.pads[0];
      const w0 = j * op.strides[1] - op.pads[1];
      const h1 = Math.min(h0 + op.kernel[0], h + op.pads[2]);
      const w1 = Math.min(w0 + op.kernel[1], w + op.pads[3]);
      c[i * wo + j] = op.countIncludePad
        ? (h1 - h0) * (w1 - w0)
        : (Math.min(h1, h) - Math.max(h0, 0)) * (Math.min(w1, w) - Math.max(w0, 0));
    }
  }
  return c;
}

/** Adjoint of an average pool in the seeded layout. */
export function avgPoolAdjoint(s: Seeded, op: PoolOp, v: string, inS: Shape, outS: Shape): string {
  const g = s.g;
  const counts = g.initializer('avgcount', [outS[1], outS[2]], avgPoolCounts(op, inS, outS));
  const scaled = g.op('Div', [s.flat(v, outS), counts]);
  const ones = g.initializer(
    'ones',
    [inS[0], 1, ...op.kernel],
    new Float32Array(inS[0] * op.kernel[0] * op.kernel[1]).fill(1),
  );
  const outPad = [0, 1].map(
    (ax) =>
      inS[ax + 1] - ((outS[ax + 1] - 1) * op.strides[ax] + op.kernel[ax] - op.pads[ax] - op.pads[ax + 2]),
  );
  const r = g.op('ConvTranspose', [scaled, ones], {
    kernel_shape: op.kernel,
    strides: op.strides,
    pads: [...op.pads],
    group: inS[0],
    output_padding: outPad,
  });
  return s.unflat(r, inS);
}
