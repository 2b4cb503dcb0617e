/**
 * Reference timings measured on this machine kind (../shared/docs/anchors.md, 2026-11-23): batch 1 at
 * paper resolution; PyTorch 1.13 eager (median) and ORT 1.30 running the torch.onnx.export graph.
 */
export const ANCHOR_MATMUL_GMADDS = 215; // ~430 GFLOP/s
export const INFERENCE_ANCHORS: Record<string, { torchEagerMs: number; ortExportedMs: number }> = {
  mobilevitv3_xxs: { torchEagerMs: 25.9, ortExportedMs: 5.45 },
  mobilevitv3_xs: { torchEagerMs: 108, ortExportedMs: 9.67 },
  mobilevitv3_s: { torchEagerMs: 137, ortExportedMs: 15.4 },
  'mobilevitv3_0.5': { torchEagerMs: 12.6, ortExportedMs: 4.56 },
  'mobilevitv3_0.75': { torchEagerMs: 29.4, ortExportedMs: 8.36 },
  'mobilevitv3_1.0': { torchEagerMs: 69.6, ortExportedMs: 13.1 },
  mobile_former_26m: { torchEagerMs: 16.0, ortExportedMs: 2.5 },
  mobile_former_52m: { torchEagerMs: 10.1, ortExportedMs: 2.88 },
  mobile_former_96m: { torchEagerMs: 12.7, ortExportedMs: 3.78 },
  mobile_former_151m: { torchEagerMs: 19.8, ortExportedMs: 5.55 },
  mobile_former_214m: { torchEagerMs: 21.1, ortExportedMs: 6.63 },
  mobile_former_294m: { torchEagerMs: 24.0, ortExportedMs: 7.46 },
  mobile_former_508m: { torchEagerMs: 80.3, ortExportedMs: 10.1 },
};
/** PyTorch 1.13 CPU training step (2 threads), batch 32 at 64x64, AdamW, label smoothing 0.1: median img/s range. */
export const TRAIN_ANCHORS_IMG_S: Record<string, [number, number]> = {
  mobilevitv3_xxs: [115, 138],
  'mobilevitv3_0.5': [266, 266],
  mobile_former_26m: [115, 132],
};
/** The same runs' best step in ms (PyTorch's OpenMP medians move with other load; the best shows an undisturbed step). */
export const TRAIN_ANCHORS_BEST_MS: Record<string, number> = {
  mobilevitv3_xxs: 95,
  'mobilevitv3_0.5': 106,
  mobile_former_26m: 99,
};
