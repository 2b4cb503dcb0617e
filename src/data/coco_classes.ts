/**
 * COCO detection classes in the two indexings the heads use.
 * - COCO_91: torchvision's layout (RetinaNet, `num_classes = 91`): index = COCO category id, index 0
 *   '__background__' and the 10 ids COCO never used 'N/A'. The sigmoid head still scores them.
 * - COCO_81: cvnets' SSD layout (`n_classes = 81`): 0 = background, 1..80 = the 80 categories in
 *   ascending category id; COCO_80_CATEGORY_IDS[k - 1] is the category id of SSD label k.
 */
export const COCO_91: readonly string[] = [
  '__background__', 'person', 'bicycle', 'car', 'motorcycle', 'airplane', 'bus', 'train', 'truck', 'boat',
  'traffic light', 'fire hydrant', 'N/A', 'stop sign', 'parking meter', 'bench', 'bird', 'cat', 'dog', 'horse',
  'sheep', 'cow', 'elephant', 'bear', 'zebra', 'giraffe', 'N/A', 'backpack', 'umbrella', 'N/A', 'N/A', 'handbag',
  'tie', 'suitcase', 'frisbee', 'skis', 'snowboard', 'sports ball', 'kite', 'baseball bat', 'baseball glove',
  'skateboard', 'surfboard', 'tennis racket', 'bottle', 'N/A', 'wine glass', 'cup', 'fork', 'knife', 'spoon',
  'bowl', 'banana', 'apple', 'sandwich', 'orange', 'broccoli', 'carrot', 'hot dog', 'pizza', 'donut', 'cake',
  'chair', 'couch', 'potted plant', 'bed', 'N/A', 'dining table', 'N/A', 'N/A', 'toilet', 'N/A', 'tv', 'laptop',
  'mouse', 'remote', 'keyboard', 'cell phone', 'microwave', 'oven', 'toaster', 'sink', 'refrigerator', 'N/A',
  'book', 'clock', 'vase', 'scissors', 'teddy bear', 'hair drier', 'toothbrush',
];

/** The 80 COCO category ids in ascending order (SSD label k ↔ id COCO_80_CATEGORY_IDS[k − 1]). */
export const COCO_80_CATEGORY_IDS: readonly number[] = COCO_91.flatMap((n, i) => (i > 0 && n !== 'N/A' ? [i] : []));

/** cvnets' SSD classes: 'background' then the 80 names. */
export const COCO_81: readonly string[] = ['background', ...COCO_80_CATEGORY_IDS.map((id) => COCO_91[id])];

/** SSD label (1..80) → COCO category id; 0 (background) → null. */
export function ssdLabelToCocoId(label: number): number | null {
  return label >= 1 && label <= 80 ? COCO_80_CATEGORY_IDS[label - 1] : null;
}
