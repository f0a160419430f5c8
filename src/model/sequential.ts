/**
 * Builds sequential CNNs directly as IR with seeded random weights: the paper's MNIST CNN (for
 * training) and the random-weight VGG16 of the benchmarks share it.
 */
import { Rng } from '../methods/random.js';
import type { Layer, Model, Op, Param, Shape } from './ir.js';
import { size } from './ir.js';
import { inferShape } from './shapes.js';

export class SequentialBuilder {
  readonly params = new Map<string, Param>();
  private readonly shapes: Map<string, Shape>;
  private readonly layers: Layer[] = [];
  private cur = 'x';
  private readonly rng: Rng;

  constructor(
    private readonly inputShape: Shape,
    seed: number,
    private readonly hash = '',
  ) {
    this.rng = new Rng(seed);
    this.shapes = new Map([['x', inputShape]]);
  }

  get shape(): Shape {
    return this.shapes.get(this.cur)!;
  }

  private normal(n: number, std: number): Float32Array {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = this.rng.normal() * std;
    return a;
  }

  private add(name: string, op: Op, reshape?: Shape): this {
    const layer: Layer = { name, op, inputs: [this.cur], output: `${name}_out` };
    this.shapes.set(layer.output, inferShape(this, layer, [this.shape], reshape));
    this.layers.push(layer);
    this.cur = layer.output;
    return this;
  }

  /** k×k conv, stride 1, He-normal weights (fan-in), biases N(0, biasStd²) (0: zeros) */
  conv(name: string, cout: number, k: number, pad: number, biasStd = 0): this {
    const cin = this.shape[0];
    const fanIn = cin * k * k;
    this.params.set(`${name}.weight`, {
      dims: [cout, cin, k, k],
      data: this.normal(cout * fanIn, Math.sqrt(2 / fanIn)),
    });
    this.params.set(`${name}.bias`, {
      dims: [cout],
      data: biasStd ? this.normal(cout, biasStd) : new Float32Array(cout),
    });
    return this.add(name, {
      type: 'conv',
      weight: `${name}.weight`,
      bias: `${name}.bias`,
      kernel: [k, k],
      strides: [1, 1],
      pads: [pad, pad, pad, pad],
      dilations: [1, 1],
      group: 1,
    });
  }

  relu(name: string): this {
    return this.add(name, { type: 'relu' });
  }

  maxpool(name: string, k: number): this {
    return this.add(name, {
      type: 'maxpool',
      kernel: [k, k],
      strides: [k, k],
      pads: [0, 0, 0, 0],
      dilations: [1, 1],
      ceil: false,
      countIncludePad: false,
    });
  }

  flatten(name = 'flatten'): this {
    return this.add(name, { type: 'reshape' }, [size(this.shape)]);
  }

  /** dense layer with weights N(0, gain/fan_in), biases N(0, biasStd²) (0: zeros) */
  dense(name: string, nout: number, gain: number, biasStd = 0): this {
    const nin = this.shape[0];
    this.params.set(`${name}.weight`, {
      dims: [nout, nin],
      data: this.normal(nout * nin, Math.sqrt(gain / nin)),
    });
    this.params.set(`${name}.bias`, {
      dims: [nout],
      data: biasStd ? this.normal(nout, biasStd) : new Float32Array(nout),
    });
    return this.add(name, { type: 'linear', weight: `${name}.weight`, bias: `${name}.bias` });
  }

  build(): Model {
    return {
      inputName: 'x',
      inputShape: this.inputShape,
      outputName: this.cur,
      layers: this.layers,
      params: this.params,
      shapes: this.shapes,
      notes: [],
      hash: this.hash,
    };
  }
}
