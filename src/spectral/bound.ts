/**
 * The LRP-γ operator-norm bound (paper appendix B, DESIGN §1.7). For each γ layer with input
 * a ≥ 0: z⁺_k = Σ_j a_j w⁺_jk, z⁻_k = Σ_j a_j w⁻_jk (no bias), ρ = max_{z_k>0} |z⁻_k|/z⁺_k and
 * ‖layer map‖_1 ≤ (1+γ+ρ)/(1+γ−ρ). Column norms are measured without forming the map:
 * with a ≥ 0, Σ_j |a_j w̃_jk| / |z̃_k| = (Σ_j a_j |w̃_jk|) / |z̃_k|. Reported for the bias-free map
 * (which the bound covers) and for the map LRP actually uses (bias in the denominator,
 * negative branch for z_k < 0), flagged where the latter exceeds the bound.
 */
import type { ConvOp, Layer, LinearOp, Model } from '../model/ir.js';
import { GraphBuilder } from '../propagate/builder.js';
import { IO } from '../propagate/compile.js';
import { convAttrs, emitForward, emitParams } from '../propagate/forward.js';
import type { Rule } from '../rules/rules.js';
import type { Engine } from '../runtime/engine.js';

export interface LayerBound {
  layer: string;
  rule: string;
  gamma?: number;
  /** true if the layer input is non-negative (the bound's assumption) */
  inputNonNegative: boolean;
  rho?: number;
  bound?: number;
  /** bias-free map, columns with z_k > 0 (must be ≤ bound) */
  biasFreeNorm?: number;
  /** the map LRP uses, columns with z_k (incl. bias) > 0 */
  usedNorm: number;
  /** the map LRP uses, all columns with z_k ≠ 0 */
  usedNormAllColumns: number;
  exceedsBound: boolean;
}

export interface NetworkBound {
  layers: LayerBound[];
  productOfBounds: number;
  /** product of bounds of γ layers × measured norms of the other rule layers */
  productOfBoundsTimesOtherNorms: number;
  productOfUsedNorms: number;
}

const STAB = 1e-6;

function layerOp(g: GraphBuilder, op: ConvOp | LinearOp, a: string, w: string, b?: string): string {
  const args = b ? [a, w, b] : [a, w];
  return op.type === 'conv' ? g.op('Conv', args, convAttrs(op)) : g.op('Gemm', args, { transB: 1 });
}

/** Per-neuron statistics of every rule layer, from one forward pass. */
async function layerStats(
  model: Model,
  engine: Engine,
  layers: { layer: Layer; gamma: number; eps: number }[],
  x: Float32Array,
) {
  const g = new GraphBuilder();
  const xin = g.input({ name: IO.x, dims: [1, ...model.inputShape] });
  const fwd = emitForward(g, model, xin, emitParams(g, model), false);
  const names: string[][] = [];
  for (const [i, { layer, gamma }] of layers.entries()) {
    const op = layer.op as ConvOp | LinearOp;
    const a = fwd.values.get(layer.inputs[0])!;
    const w = fwd.params.get(op.weight)!;
    const b = op.bias ? fwd.params.get(op.bias) : undefined;
    const gm = g.floats([gamma]);
    const wpos = g.op('Relu', [w]);
    const wneg = g.op('Min', [w, g.floats([0])]);
    const wp = g.op('Add', [w, g.op('Mul', [wpos, gm])]);
    const wn = g.op('Add', [w, g.op('Mul', [wneg, gm])]);
    const bp = b ? g.op('Add', [b, g.op('Mul', [g.op('Relu', [b]), gm])]) : undefined;
    const bn = b ? g.op('Add', [b, g.op('Mul', [g.op('Min', [b, g.floats([0])]), gm])]) : undefined;
    const outs = {
      z: fwd.values.get(layer.output)!,
      zp: layerOp(g, op, a, wpos),
      zn: layerOp(g, op, a, wneg),
      numP: layerOp(g, op, a, g.op('Abs', [wp])),
      denBF: layerOp(g, op, a, wp),
      denP: layerOp(g, op, a, wp, bp),
      numN: layerOp(g, op, a, g.op('Abs', [wn])),
      denN: layerOp(g, op, a, wn, bn),
      amin: g.op('ReduceMin', [a], { keepdims: 0 }),
    };
    names.push(
      Object.entries(outs).map(([k, v]) => {
        const rank = k === 'amin' ? 0 : op.type === 'conv' ? 4 : 2;
        g.output(v, { as: `${i}:${k}`, dims: ['n', 'c', 'h', 'w'].slice(0, rank) });
        return `${i}:${k}`;
      }),
    );
  }
  const s = await engine.createSession(g.build('bound'));
  const r = await s.run({ [IO.x]: { dims: [1, ...model.inputShape], data: x } });
  await s.release();
  return layers.map((_, i) => Object.fromEntries(names[i].map((n) => [n.split(':')[1], r[n].data])));
}

const stab = (u: number) => u + STAB * (u >= 0 ? 1 : -1);

export async function gammaBound(
  model: Model,
  engine: Engine,
  rules: Map<string, Rule>,
  x: Float32Array,
): Promise<NetworkBound> {
  const picked = model.layers
    .filter((l) => rules.get(l.name)?.kind === 'basic')
    .map((layer) => {
      const r = rules.get(layer.name)!;
      const gamma = r.name === 'gamma' ? (r.params.gamma as number) : 0;
      const eps = r.name === 'epsilon' ? (r.params.epsilon as number) : STAB;
      return { layer, gamma, eps, rule: r };
    })
    .filter((p) => ['gamma', 'epsilon', 'zero'].includes(p.rule.name));
  const stats = await layerStats(model, engine, picked, x);
  const layers: LayerBound[] = picked.map((p, i) => {
    const s = stats[i];
    const isGamma = p.rule.name === 'gamma';
    let rho = 0;
    let biasFree = 0;
    let used = 0;
    let usedAll = 0;
    for (let k = 0; k < s.z.length; k++) {
      const zbf = s.zp[k] + s.zn[k];
      if (zbf > 0) {
        rho = Math.max(rho, Math.abs(s.zn[k]) / s.zp[k]);
        biasFree = Math.max(biasFree, s.numP[k] / Math.abs(s.denBF[k]));
      }
      if (isGamma) {
        if (s.z[k] > 0) {
          const v = s.numP[k] / Math.abs(stab(s.denP[k]));
          used = Math.max(used, v);
          usedAll = Math.max(usedAll, v);
        } else if (s.z[k] < 0) usedAll = Math.max(usedAll, s.numN[k] / Math.abs(stab(s.denN[k])));
      } else {
        // ε / LRP-0: w̃ = w, denominator z + ε·sign(z)
        const eps = p.eps;
        const v = s.numP[k] / Math.abs(s.z[k] + eps * (s.z[k] >= 0 ? 1 : -1));
        if (s.z[k] > 0) used = Math.max(used, v);
        if (s.z[k] !== 0) usedAll = Math.max(usedAll, v);
      }
    }
    const g = p.gamma;
    const bound = isGamma
      ? rho >= 1 + g
        ? Number.POSITIVE_INFINITY
        : (1 + g + rho) / (1 + g - rho)
      : undefined;
    return {
      layer: p.layer.name,
      rule: p.rule.name,
      gamma: isGamma ? g : undefined,
      inputNonNegative: s.amin[0] >= 0,
      rho: isGamma ? rho : undefined,
      bound,
      biasFreeNorm: isGamma ? biasFree : undefined,
      usedNorm: used,
      usedNormAllColumns: usedAll,
      exceedsBound: bound !== undefined && used > bound,
    };
  });
  const prod = (f: (l: LayerBound) => number) => layers.reduce((a, l) => a * f(l), 1);
  return {
    layers,
    productOfBounds: prod((l) => l.bound ?? 1),
    productOfBoundsTimesOtherNorms: prod((l) => l.bound ?? l.usedNormAllColumns),
    productOfUsedNorms: prod((l) => (l.bound !== undefined ? l.usedNorm : l.usedNormAllColumns)),
  };
}
