/**
 * Every named tensor of a dense model's forward, as the golden io files name them: DeepLabv3
 * `logits`, `logits_lowres`, `aspp_out`, `aspp_concat`, `out_l0..5`, `aux_logits`; SSDLite
 * `cls_logits`, `box_regressions`, `feat_l*`, `head_raw_l*`, `anchors` (of the actual feature maps),
 * `boxes_decoded` and per image `det<b>_{labels, scores, boxes, boxes_px, anchor_index}` with the
 * model's official post-processing.
 */
import { ssdDecode, ssdPostprocess, toPixelBoxes, type SsdPostprocessOptions } from '../detect/ssd.js';
import type { HostTensor } from '../tensor.js';
import type { HybridModel } from './model.js';
import { SsdLite, ssdModelAnchors } from './ssdlite.js';

const i64 = (v: ArrayLike<number>): HostTensor => ({ dtype: 'int64', shape: [v.length], data: BigInt64Array.from(Array.from(v, (x) => BigInt(x))) });

export async function denseOutputs(model: HybridModel, x: HostTensor, opts: { postprocess?: Partial<SsdPostprocessOptions> } = {}): Promise<Record<string, HostTensor>> {
  const out = await model.forwardFeatures(x);
  const net = model.net;
  if (!(net instanceof SsdLite)) return out;
  const { logits, ...rest } = out;
  const res: Record<string, HostTensor> = { cls_logits: logits, ...rest };
  const [B, , H, W] = x.shape;
  const grids = net.heads.map((_, i) => out[`feat_l${i}`].shape.slice(2) as [number, number]);
  const anchors = ssdModelAnchors(net, model.cfg, grids);
  const N = anchors.length / 4;
  const C = net.numClasses;
  res.anchors = { dtype: 'float32', shape: [N, 4], data: anchors };
  const reg = out.box_regressions.data as Float32Array;
  const cls = logits.data as Float32Array;
  const dec = new Float32Array(B * N * 4);
  const pp = { ...net.postprocess, ...opts.postprocess };
  for (let b = 0; b < B; b++) {
    const r = reg.subarray(b * N * 4, (b + 1) * N * 4);
    dec.set(ssdDecode(r, anchors, pp.variances), b * N * 4);
    const det = ssdPostprocess(cls.subarray(b * N * C, (b + 1) * N * C), r, anchors, C, pp);
    const K = det.labels.length;
    res[`det${b}_labels`] = i64(det.labels);
    res[`det${b}_scores`] = { dtype: 'float32', shape: [K], data: det.scores };
    res[`det${b}_boxes`] = { dtype: 'float32', shape: [K, 4], data: det.boxes };
    res[`det${b}_boxes_px`] = { dtype: 'float32', shape: [K, 4], data: toPixelBoxes(det.boxes, H, W) };
    res[`det${b}_anchor_index`] = i64(det.anchorIndex);
  }
  res.boxes_decoded = { dtype: 'float32', shape: [B, N, 4], data: dec };
  return res;
}
