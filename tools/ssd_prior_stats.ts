/**
 * How well SSD prior boxes cover the fmnist-scenes boxes: matched priors per box, and the share of
 * boxes that get at most one (the matcher's forced best prior), for prior-scale ranges and matcher
 * IoU thresholds, on the first N test scenes.
 * Usage: node dist/tools/ssd_prior_stats.js [scenes=300] [size=128]
 */
import { SCENES_TEST_SEED } from '../src/data/dense_data_node.js';
import { loadFashionMnist } from '../src/data/fashion_mnist_node.js';
import { makeSceneSet } from '../src/data/fmnist_scenes.js';
import { ssdAnchors, ssdGridSizes, ssdMatch, SSD_ANCHOR_DEFAULTS } from '../src/detect/ssd.js';

const n = Number(process.argv[2] ?? 300);
const S = Number(process.argv[3] ?? 128);
const set = makeSceneSet(loadFashionMnist().test, SCENES_TEST_SEED, n, { size: S });
console.log('| scales | IoU | priors per box | boxes with <= 1 prior |\n|---|---|---|---|');
for (const [lo, hi] of [[0.1, 1.05], [0.15, 0.9], [0.2, 0.95]]) {
  const anchors = ssdAnchors(ssdGridSizes(S, S), { ...SSD_ANCHOR_DEFAULTS, minScaleRatio: lo, maxScaleRatio: hi });
  for (const iou of [0.5, 0.4]) {
    let boxes = 0;
    let matched = 0;
    let weak = 0;
    for (const obs of set.objects) {
      const m = ssdMatch(Float32Array.from(obs.flatMap((o) => o.box.map((v) => v / S))), obs.map((o) => o.label + 1), anchors, iou);
      const per = new Array(obs.length).fill(0);
      m.labels.forEach((l, a) => l > 0 && per[m.gtIndex[a]]++);
      boxes += obs.length;
      matched += per.reduce((x, y) => x + y, 0);
      weak += per.filter((c) => c <= 1).length;
    }
    console.log(`| ${lo}–${hi} | ${iou} | ${(matched / boxes).toFixed(2)} | ${((100 * weak) / boxes).toFixed(0)}% |`);
  }
}
