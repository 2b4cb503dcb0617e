/** The task of a model, from its family: which pipeline and which CLI command serve it. */
import type { Family } from './types.js';

export type Task = 'image-classification' | 'image-segmentation' | 'object-detection';

const FAMILY_TASK: Record<Family, Task> = {
  mobile_former: 'image-classification',
  mobilevitv3: 'image-classification',
  mobilevit: 'image-classification',
  mobilevitv2: 'image-classification',
  deeplabv3: 'image-segmentation',
  ssdlite: 'object-detection',
  retinanet: 'object-detection',
};

export function taskOf(spec: { family: Family }): Task {
  return FAMILY_TASK[spec.family];
}
