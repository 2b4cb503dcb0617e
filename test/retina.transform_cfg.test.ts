import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RCNN_TRANSFORM_DEFAULTS } from '../src/detect/retina_transform.js';
import { getModelSpec } from '../src/models/registry.js';
import { retinaTransformOf } from '../src/models/retinanet_detect.js';

test('RetinaNet preprocessing follows the model cfg: the zoo cfg is torchvision\'s deployment transform, a 128² model keeps its size and mean/std', () => {
  assert.deepEqual(retinaTransformOf(getModelSpec('retinanet_mobile_former_26m').cfg), RCNN_TRANSFORM_DEFAULTS);
  const t = retinaTransformOf({ inputSize: [128, 128], mean: [0.286, 0.286, 0.286], std: [0.353, 0.353, 0.353] });
  assert.deepEqual(t, { minSize: 128, maxSize: 213, mean: [0.286, 0.286, 0.286], std: [0.353, 0.353, 0.353], sizeDivisible: 32 });
});
