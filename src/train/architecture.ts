/**
 * The paper's MNIST CNN (appendix D, DESIGN §1.8) built directly as IR with a seeded
 * He-normal initialisation (PyTorch's default initialisation did not learn with plain SGD at
 * lr 0.1 on this data, as measured when the fixtures were built).
 */
import type { Model } from '../model/ir.js';
import { SequentialBuilder } from '../model/sequential.js';

export const PAPER_MNIST_ARCHITECTURE =
  'conv3x3(1→8,p1)+ReLU, conv3x3(8→8,p1)+ReLU, conv5x5(8→8)+ReLU, maxpool2, conv5x5(8→16)+ReLU, ' +
  'conv3x3(16→16,p1)+ReLU, conv3x3(16→16,p1)+ReLU, maxpool2, flatten(256), dense 256→10';

/** [channels, kernel, padding] per conv; 'M' = 2×2 max-pool */
const PAPER = [[8, 3, 1], [8, 3, 1], [8, 5, 0], 'M', [16, 5, 0], [16, 3, 1], [16, 3, 1], 'M'] as const;

export function paperMnistCnn(seed: number): Model {
  const b = new SequentialBuilder([1, 28, 28], seed);
  let n = 0;
  for (const s of PAPER) {
    if (s === 'M') b.maxpool(`pool${n}`, 2);
    else {
      b.conv(`conv${n}`, s[0], s[1], s[2]).relu(`relu${n}`);
      n++;
    }
  }
  return b.flatten().dense('dense', 10, 1).build();
}
