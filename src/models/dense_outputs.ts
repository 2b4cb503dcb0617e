/**
 * Every named tensor of a dense model's forward, as the golden io files name them: DeepLabv3
 * `logits`, `logits_lowres`, `aspp_out`, `aspp_concat`, `out_l0..5`, `aux_logits`; SSDLite
 * `cls_logits`, `box_regressions`, `feat_l*`, `head_raw_l*`, `anchors` (of the actual feature maps),
 * `boxes_decoded` and per image `det<b>_{labels, scores, boxes, boxes_px, anchor_index}` with the
 * model's official post-processing; RetinaNet (../shared/golden/retinanet_mf names) `batched_input`,
 * `image_sizes`, `C3…C5`, `P3…P7`, `cls_logits`, `bbox_regression`, `*_raw.P<l>`, `anchors` and per
 * image `pre_nms.<b>.*`, `nms_keep.<b>`, `det.<b>.{boxes, scores, labels, anchor_idx}`.
 */
import type { RetinaCandidates } from '../detect/retinanet.js';
import type { RcnnTransformOptions } from '../detect/retina_transform.js';
import { ssdDecode, ssdPostprocess, toPixelBoxes, type Detections, type SsdPostprocessOptions } from '../detect/ssd.js';
import { HybridVisionError, type HostTensor } from '../tensor.js';
import type { HybridModel } from './model.js';
import { retinaDetect } from './retinanet_detect.js';
import { SsdLite, ssdModelAnchors } from './ssdlite.js';

const i64 = (v: ArrayLike<number>): HostTensor => ({ dtype: 'int64', shape: [v.length], data: BigInt64Array.from(Array.from(v, (x) => BigInt(x))) });

export interface DenseOutputOptions {
  /** SSDLite post-processing overrides. */
  postprocess?: Partial<SsdPostprocessOptions>;
  /** RetinaNet's GeneralizedRCNNTransform (default: torchvision's deployment settings). */
  transform?: RcnnTransformOptions;
}

/**
 * `x`: a batch [N, 3, H, W]; RetinaNet also takes a list of [3, H_i, W_i] images of any sizes, which
 * its transform resizes and pads into one batch as torchvision does.
 */
export async function denseOutputs(model: HybridModel, x: HostTensor | HostTensor[], opts: DenseOutputOptions = {}): Promise<Record<string, HostTensor>> {
  if (model.spec.family === 'retinanet') return retinaOutputs(model, x, opts.transform);
  if (Array.isArray(x)) throw new HybridVisionError(`${model.name} takes one batch [N, 3, H, W], not a list of images`);
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

async function retinaOutputs(model: HybridModel, x: HostTensor | HostTensor[], transform?: RcnnTransformOptions): Promise<Record<string, HostTensor>> {
  const images = Array.isArray(x)
    ? x.map((t) => ({ data: t.data as Float32Array, height: t.shape[1], width: t.shape[2] }))
    : Array.from({ length: x.shape[0] }, (_, b) => {
        const [, , H, W] = x.shape;
        return { data: (x.data as Float32Array).subarray(b * 3 * H * W, (b + 1) * 3 * H * W), height: H, width: W };
      });
  const run = await retinaDetect(model, images, { transform });
  const { logits, ...rest } = run.outputs;
  const B = images.length;
  const { batch } = run;
  const res: Record<string, HostTensor> = {
    batched_input: { dtype: 'float32', shape: [B, 3, batch.paddedHeight, batch.paddedWidth], data: batch.batch },
    image_sizes: { dtype: 'int64', shape: [B, 2], data: BigInt64Array.from(batch.imageSizes.flat(), BigInt) },
    cls_logits: logits,
    ...rest,
    anchors: { dtype: 'float32', shape: [run.anchors.length / 4, 4], data: run.anchors },
  };
  const put = (prefix: string, d: Detections | RetinaCandidates) => {
    const K = d.scores.length;
    res[`${prefix}.boxes`] = { dtype: 'float32', shape: [K, 4], data: d.boxes };
    res[`${prefix}.scores`] = { dtype: 'float32', shape: [K], data: d.scores };
    res[`${prefix}.labels`] = i64(d.labels);
    res[`${prefix}.anchor_idx`] = i64(d.anchorIndex);
  };
  run.images.forEach((r, b) => {
    put(`pre_nms.${b}`, r.candidates);
    res[`nms_keep.${b}`] = i64(r.nmsKeep);
    put(`det.${b}`, r.detections);
  });
  return res;
}
