/** PASCAL VOC 2012 segmentation classes (21, index 0 = background; 255 = void, ignored) and the VOC palette. */
export const VOC_CLASSES: readonly string[] = [
  'background', 'aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair', 'cow',
  'diningtable', 'dog', 'horse', 'motorbike', 'person', 'pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor',
];

/** The label value VOC uses for void pixels (object borders); segmentation losses and mIoU ignore it. */
export const VOC_IGNORE_INDEX = 255;

/**
 * The VOC colour map (256 RGB entries, flat): entry i spreads the bits of i over the high bits of
 * R, G and B (bit 0 → R, 1 → G, 2 → B, three at a time). 0 is black, 255 is (224, 224, 192).
 */
export const VOC_PALETTE: Uint8Array = (() => {
  const p = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    let r = 0, g = 0, b = 0, c = i;
    for (let j = 0; j < 8; j++) {
      r |= (c & 1) << (7 - j);
      g |= ((c >> 1) & 1) << (7 - j);
      b |= ((c >> 2) & 1) << (7 - j);
      c >>= 3;
    }
    p.set([r, g, b], 3 * i);
  }
  return p;
})();
