/**
 * Composites map layers to rules (Zennit's Composite): an ordered list of (selector → rule);
 * the first selector that matches a Conv/Linear layer decides. Unmatched layers get the plain
 * gradient, as in Zennit. Non-parametric layers have fixed treatment (DESIGN §1.5): ReLU passes
 * relevance, max-pool routes it to the arg-max, average pools and residual sums use the Norm rule.
 */
import type { Layer, Model } from '../model/ir.js';
import { isParametric } from '../model/ir.js';
import { gateIndex } from '../propagate/elementwise.js';
import { epsilon, gamma, gradientRule, parseRule, type Rule, RuleError, zBox } from './rules.js';

export interface LayerInfo {
  layer: Layer;
  type: 'conv' | 'linear';
  /** position among the Conv/Linear layers, 0-based */
  index: number;
  isFirst: boolean;
  isLast: boolean;
  /** 1 + the number of max-pools before the layer (a block ends at a max-pool) */
  block: number;
}

export type Selector = (info: LayerInfo) => boolean;

export interface Composite {
  name: string;
  entries: { selector: Selector; describe: string; rule: Rule }[];
}

export function layerInfos(model: Model): LayerInfo[] {
  const pools = new Map<string, number>([[model.inputName, 0]]);
  for (const l of model.layers) {
    const before = Math.max(0, ...l.inputs.map((t) => pools.get(t) ?? 0));
    pools.set(l.output, before + (l.op.type === 'maxpool' ? 1 : 0));
  }
  const params = model.layers.filter((l) => isParametric(l.op));
  return params.map((layer, index) => ({
    layer,
    type: layer.op.type as 'conv' | 'linear',
    index,
    isFirst: index === 0,
    isLast: index === params.length - 1,
    block: 1 + Math.max(0, ...layer.inputs.map((t) => pools.get(t) ?? 0)),
  }));
}

export function assignRules(model: Model, composite: Composite): Map<string, Rule> {
  const out = new Map<string, Rule>();
  for (const info of layerInfos(model)) {
    const hit = composite.entries.find((e) => e.selector(info));
    out.set(info.layer.name, hit ? hit.rule : gradientRule());
  }
  return out;
}

export interface Bounds {
  low: number[];
  high: number[];
}

/**
 * The paper's MNIST composite (the first author's thesis code): z^B with the input's bounds on the
 * first conv, LRP-γ on every other conv and on every dense layer. With γ on the dense layer too, the
 * SSM of the paper's CNN peaks at an interior γ (the "sweet spot"): γ → ∞ makes all class columns
 * alike (SSM → 1), γ → 0 leaves them noisy (large σ1). With ε on the dense layer it does not.
 */
export function mnistPaper(g: number, bounds: Bounds): Composite {
  return {
    name: `mnist-paper(${g})`,
    entries: [
      {
        selector: (i) => i.isFirst && i.type === 'conv',
        describe: 'first conv',
        rule: zBox(bounds.low, bounds.high),
      },
      { selector: () => true, describe: 'other convs and all dense layers', rule: gamma(g) },
    ],
  };
}

export function gammaAll(g: number): Composite {
  return {
    name: `gamma-all(${g})`,
    entries: [
      { selector: (i) => i.type === 'conv', describe: 'conv', rule: gamma(g) },
      { selector: (i) => i.type === 'linear', describe: 'linear', rule: epsilon(1e-6) },
    ],
  };
}

export function vgg16Paper(g: number, bounds: Bounds): Composite {
  return {
    name: `vgg16-paper(${g})`,
    entries: [
      {
        selector: (i) => i.isFirst && i.type === 'conv',
        describe: 'first conv',
        rule: zBox(bounds.low, bounds.high),
      },
      { selector: (i) => i.type === 'conv' && i.block <= 3, describe: 'conv in blocks 1-3', rule: gamma(g) },
      { selector: () => true, describe: 'later convs and all linear layers', rule: epsilon(1e-6) },
    ],
  };
}

export function epsilonGammaBox(g: number, bounds: Bounds): Composite {
  return {
    name: `epsilon-gamma-box(${g})`,
    entries: [
      {
        selector: (i) => i.isFirst && i.type === 'conv',
        describe: 'first conv',
        rule: zBox(bounds.low, bounds.high),
      },
      { selector: (i) => i.type === 'conv', describe: 'other convs', rule: gamma(g) },
      { selector: (i) => i.type === 'linear', describe: 'linear', rule: epsilon(1e-6) },
    ],
  };
}

export const COMPOSITES = ['mnist-paper', 'gamma-all', 'vgg16-paper', 'epsilon-gamma-box'] as const;

export function presetComposite(name: string, g: number, bounds: Bounds): Composite {
  switch (name) {
    case 'mnist-paper':
      return mnistPaper(g, bounds);
    case 'gamma-all':
      return gammaAll(g);
    case 'vgg16-paper':
    case 'vgg-paper':
      return vgg16Paper(g, bounds);
    case 'epsilon-gamma-box':
      return epsilonGammaBox(g, bounds);
    default:
      return customComposite(name);
  }
}

/**
 * A user composite written as `selector=rule,...`, e.g.
 * `first=zbox:-1:1,conv&block<=3=gamma:0.25,linear=epsilon:1e-6,*=gradient`.
 * Selectors: `*`, `first`, `last`, `conv`, `linear`, `block<=N`, `block>N`, `index=N`, `name~REGEX`,
 * joined with `&`.
 */
export function customComposite(spec: string): Composite {
  if (!spec.includes('=')) {
    throw new RuleError(
      `unknown composite "${spec}" (presets: ${COMPOSITES.join(', ')}; or selector=rule,...)`,
    );
  }
  const entries = spec.split(',').map((part) => {
    const eq = part.lastIndexOf('=');
    const sel = part.slice(0, eq).trim();
    if (eq < 0 || sel === '') throw new RuleError(`composite "${spec}": "${part}" is not selector=rule`);
    let rule: Rule;
    try {
      rule = parseRule(part.slice(eq + 1));
    } catch (e) {
      throw new RuleError(`composite "${spec}": ${(e as Error).message}`);
    }
    const tests = sel.split('&').map((s): Selector => {
      const t = s.trim();
      if (t === '*') return () => true;
      if (t === 'first') return (i) => i.isFirst;
      if (t === 'last') return (i) => i.isLast;
      if (t === 'conv' || t === 'linear') return (i) => i.type === t;
      let m = /^block(<=|>|<|>=|==)(\d+)$/.exec(t);
      if (m) {
        const n = Number(m[2]);
        const cmp = m[1];
        return (i) =>
          cmp === '<='
            ? i.block <= n
            : cmp === '<'
              ? i.block < n
              : cmp === '>'
                ? i.block > n
                : cmp === '>='
                  ? i.block >= n
                  : i.block === n;
      }
      m = /^index==?(\d+)$/.exec(t);
      if (m) return (i) => i.index === Number(m![1]);
      if (t.startsWith('name~')) {
        let re: RegExp;
        try {
          re = new RegExp(t.slice(5));
        } catch (e) {
          throw new RuleError(`composite "${spec}": selector "${t}": ${(e as Error).message}`);
        }
        return (i) => re.test(i.layer.name);
      }
      throw new RuleError(`composite "${spec}": unknown selector "${t}"`);
    });
    return { selector: (i: LayerInfo) => tests.every((f) => f(i)), describe: sel, rule };
  });
  return { name: spec, entries };
}

export function describeRule(r: Rule): string {
  const ps = Object.entries(r.params)
    .map(([k, v]) => `${k}=${Array.isArray(v) ? `[${v.map((x) => +x.toPrecision(6)).join(', ')}]` : v}`)
    .join(', ');
  return ps ? `${r.name}(${ps})` : r.name;
}

/** Rule table for printing: one row per layer of the model, parametric or not. */
export function ruleTable(
  model: Model,
  composite: Composite,
  maxpoolRule: 'wta' | 'average' = 'wta',
): { layer: string; op: string; rule: string; output: string }[] {
  const rules = assignRules(model, composite);
  const info = new Map(layerInfos(model).map((i) => [i.layer.name, i]));
  return model.layers.map((l) => {
    const r = rules.get(l.name);
    const fixed: Record<string, string> = {
      relu: 'pass',
      maxpool:
        maxpoolRule === 'average'
          ? 'average (proportional to the window inputs, LRP-0)'
          : 'winner-takes-all (gradient)',
      avgpool: 'norm',
      globalavgpool: 'norm',
      add: 'norm (proportional split)',
      reshape: 'reshape',
      concat: 'split',
      affine: 'epsilon (per-channel affine)',
      unary: 'pass',
      pad: 'route (adjoint)',
      slice: 'route (adjoint)',
      transpose: 'route (adjoint)',
      reduce: 'norm (as average pool)',
      mul:
        gateIndex(model, l) === undefined
          ? 'no gate: half to each factor'
          : `gate ${l.inputs[gateIndex(model, l)!]} as constant: all to the signal`,
      div: 'denominator as constant: all to the numerator',
      sub: 'norm (proportional split)',
      softmax: 'gradient (no LRP rule)',
    };
    const blk = info.get(l.name) ? ` block ${info.get(l.name)!.block}` : '';
    return {
      layer: l.name,
      op: `${l.op.type}${blk}`,
      rule: r ? describeRule(r) : fixed[l.op.type],
      output: l.output,
    };
  });
}
