/**
 * VGG16 (torchvision layout, 224×224, 1000 classes) as IR with random He-normal weights, for
 * benchmarks that must not depend on a downloaded export. Same ops and shapes as the real model.
 */
import type { Model } from '../src/model/ir.js';
import { SequentialBuilder } from '../src/model/sequential.js';

const CFG = [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M'] as const;

export function randomVgg16(seed = 0): Model {
  const b = new SequentialBuilder([3, 224, 224], seed, 'random-vgg16');
  let i = 0;
  for (const c of CFG) {
    if (c === 'M') b.maxpool(`pool${i}`, 2);
    else {
      b.conv(`conv${i}`, c, 3, 1, 0.01).relu(`relu${i}`);
      i++;
    }
  }
  b.flatten();
  b.dense('fc0', 4096, 2, 0.01).relu('fcrelu0');
  b.dense('fc1', 4096, 2, 0.01).relu('fcrelu1');
  return b.dense('fc2', 1000, 2, 0.01).build();
}
