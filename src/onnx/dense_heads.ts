/**
 * Post-processing appended to a lowered dense model, so one ONNX graph goes from image to result:
 * SSD decode + softmax + per-class NonMaxSuppression (classes on the score axis, see
 * docs/dense_machinery.md) ending in boxes / scores / labels, and the segmenter's per-pixel arg-max.
 * Batch 1 for the detector (NonMaxSuppression's selected indices carry the batch, the sort does not).
 */
import { HybridVisionError } from '../tensor.js';

/** The fields of detect/ssd.ts `SsdPostprocessOptions` this lowering reads (onnx/ does not import detect/). */
export interface SsdPostprocessLike {
  confThreshold: number;
  nmsIouThreshold: number;
  topKBeforeNms: number | null;
  topKAfterNms: number | null;
  maxDetections: number | null;
  mode: 'per-class' | 'batched';
  variances: { center: number; size: number };
}
import { DT, floatTensor, int64Tensor, node, type ModelP, type NodeP, type TensorP, type ValueInfoP } from './proto.js';

const vi = (name: string, elemType: number, dims: (number | string)[]): ValueInfoP => ({
  name,
  type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
});

function takeOutput(m: ModelP, name: string): ValueInfoP {
  const o = m.graph.output.find((x) => x.name === name);
  if (!o) throw new HybridVisionError(`the lowered model has no output '${name}'`);
  return o;
}

/**
 * SSD: `logits` [1, N, C] (class 0 background) and `box_regressions` [1, N, 4] → `boxes` [K, 4]
 * (x1 y1 x2 y2 in pixels of the H×W input, clipped to it), `scores` [K], `labels` [K] (int64,
 * 1..C−1) — the host `ssdPostprocess` with the same options: per-class top-k before NMS (a
 * k-th-score cut), NMS per class, per-class top-k after NMS (max_output_boxes_per_class), and for
 * the batched mode the per-image cap as a final TopK by score.
 */
export function appendSsdPostprocess(m: ModelP, anchors: Float32Array, numClasses: number, opts: SsdPostprocessLike, height: number, width: number): void {
  const N = anchors.length / 4;
  const C = numClasses;
  takeOutput(m, 'logits');
  takeOutput(m, 'box_regressions');
  const nodes: NodeP[] = [];
  const inits: TensorP[] = [];
  const p = (s: string) => `ssdpp/${s}`;
  const add = (n: NodeP) => nodes.push(n);
  const f32 = (name: string, values: ArrayLike<number>, dims?: number[]) => (inits.push(floatTensor(p(name), values, dims)), p(name));
  const i64 = (name: string, values: number[], dims?: number[]) => (inits.push(int64Tensor(p(name), values, dims)), p(name));
  const axy = new Float32Array(N * 2);
  const awh = new Float32Array(N * 2);
  for (let i = 0; i < N; i++) axy.set(anchors.subarray(4 * i, 4 * i + 2), 2 * i), awh.set(anchors.subarray(4 * i + 2, 4 * i + 4), 2 * i);
  // scores [1, C-1, N]
  add(node('Softmax', ['logits'], [p('probs')], { axis: -1 }));
  add(node('Transpose', [p('probs')], [p('probs_t')], { perm: [0, 2, 1] }));
  add(node('Slice', [p('probs_t'), i64('c_start', [1]), i64('c_end', [C]), i64('c_axis', [1])], [p('scores_all')]));
  let scores = p('scores_all');
  const k = opts.topKBeforeNms;
  if (k !== null && N > k) {
    add(node('TopK', [scores, i64('pre_k', [k])], [p('pre_vals'), p('pre_idx')], { axis: 2, largest: 1, sorted: 1 }));
    add(node('Slice', [p('pre_vals'), i64('kth_s', [k - 1]), i64('kth_e', [k]), i64('kth_a', [2])], [p('kth')]));
    add(node('Less', [scores, p('kth')], [p('below')]));
    add(node('Where', [p('below'), f32('minus1', [-1], []), scores], [p('scores_cut')]));
    scores = p('scores_cut');
  }
  // decode (the host's float32 order): c = t·v_c·a_wh + a_xy, wh = exp(t·v_s)·a_wh, xyxy = c ∓ wh·0.5
  add(node('Slice', ['box_regressions', i64('z', [0]), i64('two', [2]), i64('ax2', [2])], [p('txy')]));
  add(node('Slice', ['box_regressions', p('two'), i64('four', [4]), p('ax2')], [p('twh')]));
  add(node('Mul', [p('txy'), f32('vc', [opts.variances.center], [])], [p('txy_v')]));
  add(node('Mul', [p('txy_v'), f32('awh', awh, [1, N, 2])], [p('txy_a')]));
  add(node('Add', [p('txy_a'), f32('axy', axy, [1, N, 2])], [p('cxy')]));
  add(node('Mul', [p('twh'), f32('vs', [opts.variances.size], [])], [p('twh_v')]));
  add(node('Exp', [p('twh_v')], [p('twh_e')]));
  add(node('Mul', [p('twh_e'), p('awh')], [p('wh')]));
  add(node('Mul', [p('wh'), f32('half', [0.5], [])], [p('hwh')]));
  add(node('Sub', [p('cxy'), p('hwh')], [p('x1y1')]));
  add(node('Add', [p('cxy'), p('hwh')], [p('x2y2')]));
  add(node('Concat', [p('x1y1'), p('x2y2')], [p('boxes_n')], { axis: 2 }));
  // NMS (scores strictly above the confidence threshold), per class
  const perClass = opts.mode === 'per-class' && opts.topKAfterNms !== null ? opts.topKAfterNms : N;
  add(node('NonMaxSuppression', [p('boxes_n'), scores, i64('max_out', [perClass]), f32('iou', [opts.nmsIouThreshold]), f32('conf', [opts.confThreshold])], [p('sel')]));
  add(node('GatherND', [scores, p('sel')], [p('sel_scores')]));
  add(node('Slice', [p('sel'), i64('one', [1]), p('two'), i64('ax1', [1])], [p('sel_c')]));
  add(node('Slice', [p('sel'), p('two'), i64('three', [3]), p('ax1')], [p('sel_i')]));
  add(node('Reshape', [p('sel_c'), i64('flat', [-1])], [p('sel_c1')]));
  add(node('Add', [p('sel_c1'), i64('one64', [1], [])], [p('sel_labels')]));
  add(node('Reshape', [p('sel_i'), p('flat')], [p('sel_idx')]));
  add(node('Reshape', [p('boxes_n'), i64('nx4', [N, 4])], [p('boxes_2d')]));
  add(node('Gather', [p('boxes_2d'), p('sel_idx')], [p('sel_boxes')], { axis: 0 }));
  let [outScores, outBoxes, outLabels] = [p('sel_scores'), p('sel_boxes'), p('sel_labels')];
  if (opts.mode === 'batched') {
    // by score (ties: the NMS output order, class-major as the host's candidates), capped per image
    add(node('Shape', [outScores], [p('k_all')]));
    add(node('Min', [p('k_all'), i64('max_det', [opts.maxDetections ?? N])], [p('k')]));
    add(node('TopK', [outScores, p('k')], [p('top_scores'), p('order')], { axis: 0, largest: 1, sorted: 1 }));
    add(node('Gather', [outBoxes, p('order')], [p('top_boxes')], { axis: 0 }));
    add(node('Gather', [outLabels, p('order')], [p('top_labels')], { axis: 0 }));
    [outScores, outBoxes, outLabels] = [p('top_scores'), p('top_boxes'), p('top_labels')];
  }
  // pixels of the input, clipped to it (as the official evaluator converts)
  add(node('Mul', [outBoxes, f32('scale', [width, height, width, height], [4])], [p('boxes_px')]));
  add(node('Max', [p('boxes_px'), f32('zero', [0], [])], [p('boxes_lo')]));
  add(node('Min', [p('boxes_lo'), p('scale')], ['boxes']));
  add(node('Identity', [outScores], ['scores']));
  add(node('Identity', [outLabels], ['labels']));
  m.graph.node.push(...nodes);
  m.graph.initializer.push(...inits);
  m.graph.output = [vi('boxes', DT.float, ['detections', 4]), vi('scores', DT.float, ['detections']), vi('labels', DT.int64, ['detections'])];
}

/** Segmenter: `logits` [N, C, H, W] → `class_map` [N, H, W] int64 (first maximum, as torch.argmax). */
export function appendArgmax(m: ModelP): void {
  const o = takeOutput(m, 'logits');
  const d = o.type.tensorType.shape.dim;
  m.graph.node.push(node('ArgMax', ['logits'], ['class_map'], { axis: 1, keepdims: 0, select_last_index: 0 }));
  m.graph.output = [vi('class_map', DT.int64, [d[0], d[2], d[3]].map((x) => x.dimValue ?? x.dimParam ?? 0))];
}

/** The fields of detect/retinanet.ts `RetinaPostprocessOptions` this lowering reads. */
export interface RetinaPostprocessLike {
  scoreThreshold: number;
  topkCandidates: number;
  nmsThreshold: number;
  detectionsPerImage: number;
}

/**
 * RetinaNet (torchvision 0.14 `postprocess_detections`) for one image that fills the H×W input (no
 * padding): `logits` [1, A, C] and `bbox_regression` [1, A, 4] → `boxes` [K, 4] (input pixels,
 * clipped), `scores` [K], `labels` [K]. Per level the top-k (anchor, class) scores, decoded and
 * clipped boxes, batched NMS through the class axis of the scores, then the best
 * detectionsPerImage by score. `anchors` are x1 y1 x2 y2 of the input size.
 */
export function appendRetinaPostprocess(m: ModelP, anchors: Float32Array, anchorsPerLevel: readonly number[], numClasses: number, opts: RetinaPostprocessLike, height: number, width: number): void {
  const A = anchors.length / 4;
  const C = numClasses;
  takeOutput(m, 'logits');
  const nodes: NodeP[] = [];
  const inits: TensorP[] = [];
  const p = (s: string) => `retpp/${s}`;
  const add = (n: NodeP) => nodes.push(n);
  const f32 = (name: string, values: ArrayLike<number>, dims?: number[]) => (inits.push(floatTensor(p(name), values, dims)), p(name));
  const i64 = (name: string, values: number[], dims?: number[]) => (inits.push(int64Tensor(p(name), values, dims)), p(name));
  // anchor widths/heights and centres exactly as the host decode computes them (float32)
  const fr = Math.fround;
  const awh = new Float32Array(A * 2);
  const acxy = new Float32Array(A * 2);
  for (let i = 0; i < A; i++) {
    const aw = fr(anchors[4 * i + 2] - anchors[4 * i]);
    const ah = fr(anchors[4 * i + 3] - anchors[4 * i + 1]);
    awh.set([aw, ah], 2 * i);
    acxy.set([fr(anchors[4 * i] + fr(0.5 * aw)), fr(anchors[4 * i + 1] + fr(0.5 * ah))], 2 * i);
  }
  add(node('Reshape', ['bbox_regression', i64('ax4', [A, 4])], [p('reg')]));
  add(node('Slice', [p('reg'), i64('z', [0]), i64('two', [2]), i64('ax1', [1])], [p('dxy')]));
  add(node('Slice', [p('reg'), p('two'), i64('four', [4]), p('ax1')], [p('dwh_raw')]));
  add(node('Min', [p('dwh_raw'), f32('xclip', [Math.log(1000 / 16)], [])], [p('dwh')]));
  add(node('Mul', [p('dxy'), f32('awh', awh, [A, 2])], [p('dxy_a')]));
  add(node('Add', [p('dxy_a'), f32('acxy', acxy, [A, 2])], [p('pc')]));
  add(node('Exp', [p('dwh')], [p('dwh_e')]));
  add(node('Mul', [p('dwh_e'), p('awh')], [p('pwh')]));
  add(node('Mul', [p('pwh'), f32('half', [0.5], [])], [p('hwh')]));
  add(node('Sub', [p('pc'), p('hwh')], [p('x1y1')]));
  add(node('Add', [p('pc'), p('hwh')], [p('x2y2')]));
  add(node('Concat', [p('x1y1'), p('x2y2')], [p('dec')], { axis: 1 }));
  add(node('Max', [p('dec'), f32('zero', [0], [])], [p('dec_lo')]));
  add(node('Min', [p('dec_lo'), f32('size', [width, height, width, height], [4])], [p('boxes_all')]));
  // per level: the top-k (anchor·C + class) scores
  add(node('Sigmoid', ['logits'], [p('prob')]));
  add(node('Reshape', [p('prob'), i64('flat', [-1])], [p('prob_flat')]));
  const vals: string[] = [];
  const idxs: string[] = [];
  let start = 0;
  anchorsPerLevel.forEach((count, l) => {
    const k = Math.min(opts.topkCandidates, count * C);
    add(node('Slice', [p('prob_flat'), i64(`s${l}`, [start * C]), i64(`e${l}`, [(start + count) * C]), p('z')], [p(`lvl${l}`)]));
    add(node('TopK', [p(`lvl${l}`), i64(`k${l}`, [k])], [p(`v${l}`), p(`i${l}`)], { axis: 0, largest: 1, sorted: 1 }));
    add(node('Add', [p(`i${l}`), i64(`o${l}`, [start * C], [])], [p(`g${l}`)]));
    vals.push(p(`v${l}`));
    idxs.push(p(`g${l}`));
    start += count;
  });
  add(node('Concat', vals, [p('cand_scores')], { axis: 0 }));
  add(node('Concat', idxs, [p('cand_flat')], { axis: 0 }));
  add(node('Div', [p('cand_flat'), i64('C', [C], [])], [p('cand_anchor')]));
  add(node('Mod', [p('cand_flat'), p('C')], [p('cand_label')]));
  add(node('Gather', [p('boxes_all'), p('cand_anchor')], [p('cand_boxes')], { axis: 0 }));
  // scores [1, C, M]: each candidate's score on its class row, −1 elsewhere
  add(node('OneHot', [p('cand_label'), i64('depth', [C], []), f32('onoff', [0, 1], [2])], [p('oh')], { axis: -1 }));
  add(node('Mul', [p('oh'), p('cand_scores_col')], [p('oh_s')]));
  add(node('Unsqueeze', [p('cand_scores'), i64('ax1b', [1])], [p('cand_scores_col')]));
  add(node('Sub', [p('oh'), f32('one', [1], [])], [p('oh_m1')]));
  add(node('Add', [p('oh_s'), p('oh_m1')], [p('s_mc')]));
  add(node('Transpose', [p('s_mc')], [p('s_cm')], { perm: [1, 0] }));
  add(node('Unsqueeze', [p('s_cm'), i64('ax0', [0])], [p('nms_scores')]));
  add(node('Unsqueeze', [p('cand_boxes'), p('ax0')], [p('nms_boxes')]));
  const M = anchorsPerLevel.reduce((s, c) => s + Math.min(opts.topkCandidates, c * C), 0);
  add(node('NonMaxSuppression', [p('nms_boxes'), p('nms_scores'), i64('max_out', [M]), f32('iou', [opts.nmsThreshold]), f32('thr', [opts.scoreThreshold])], [p('sel')]));
  add(node('Slice', [p('sel'), p('two'), i64('three', [3]), p('ax1')], [p('sel_i')]));
  add(node('Reshape', [p('sel_i'), p('flat')], [p('kept')]));
  add(node('Gather', [p('cand_scores'), p('kept')], [p('k_scores')], { axis: 0 }));
  add(node('Shape', [p('k_scores')], [p('k_all')]));
  add(node('Min', [p('k_all'), i64('max_det', [opts.detectionsPerImage])], [p('k')]));
  add(node('TopK', [p('k_scores'), p('k')], ['scores', p('order')], { axis: 0, largest: 1, sorted: 1 }));
  add(node('Gather', [p('kept'), p('order')], [p('final')], { axis: 0 }));
  add(node('Gather', [p('cand_boxes'), p('final')], ['boxes'], { axis: 0 }));
  add(node('Gather', [p('cand_label'), p('final')], ['labels'], { axis: 0 }));
  // the Mul above reads a value defined after it: order the nodes topologically
  const defined = new Set<string>([...m.graph.node.flatMap((n) => n.output), ...m.graph.initializer.map((t) => t.name ?? ''), ...inits.map((t) => t.name ?? ''), ...m.graph.input.map((i) => i.name)]);
  const ordered: NodeP[] = [];
  let pending = nodes;
  while (pending.length) {
    const next = pending.filter((n) => !n.input.every((i) => i === '' || defined.has(i)));
    const ready = pending.filter((n) => n.input.every((i) => i === '' || defined.has(i)));
    if (!ready.length) throw new HybridVisionError('RetinaNet post-processing graph has a cycle');
    for (const n of ready) ordered.push(n), n.output.forEach((o) => defined.add(o));
    pending = next;
  }
  m.graph.node.push(...ordered);
  m.graph.initializer.push(...inits);
  m.graph.output = [vi('boxes', DT.float, ['detections', 4]), vi('scores', DT.float, ['detections']), vi('labels', DT.int64, ['detections'])];
}
