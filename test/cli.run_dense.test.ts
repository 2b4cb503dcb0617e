/** `hybridvision run <dense model>` writes every tensor the golden io files name (checked against them). */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readSafetensors, writeSafetensors } from '../src/io/safetensors.js';
import type { HostTensor } from '../src/tensor.js';
import { assertOneLineError, cli } from './helpers/cli.js';
import { assertClose, maxAbs } from './helpers/compare.js';
import { compareDetections } from './helpers/detections.js';
import { RETINA_FORWARD_CASES, retinaCaseWeights, retinaManifest } from './helpers/retina_golden.js';
import { loadDenseCase } from './helpers/dense_golden.js';
import { goldenOrSkip, REPO_ROOT } from './helpers/golden.js';

const CLI = join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');
const g = goldenOrSkip();

for (const kase of ['deeplabv3_mobilevitv3_xxs_voc', 'ssdlite_mobilevitv3_xxs_coco']) {
  test(`run ${kase} --weights <official-format .pt>: every golden io2 tensor`, { skip: g.skip }, () => {
    const c = loadDenseCase(g.dir, kase);
    const out = join(mkdtempSync(join(tmpdir(), 'hv-run-dense-')), 'out.safetensors');
    const r = spawnSync(process.execPath, [CLI, 'run', kase, '--weights', join(g.dir, 'dense', 'pt', `${kase}.pt`), '--input', join(g.dir, 'dense', `${kase}.io2.safetensors`), '--output', out], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const ours = readSafetensors(readFileSync(out)).tensors;
    const tol = c.manifest.io.io2.tolerance_suggestion;
    for (const [k, ref] of c.io2) {
      if (k === 'input') continue;
      const o = ours.get(k);
      assert.ok(o, `${kase}: run wrote ${k}`);
      if (ref.dtype === 'int64') assert.deepEqual(new Set(o!.data as BigInt64Array), new Set(ref.data as BigInt64Array), `${kase} ${k}`);
      else if (tol[k]) assertClose(o!, ref, tol[k].atol, tol[k].rtol, `${kase} run ${k}`);
      else assert.deepEqual(o!.shape, ref.shape, `${kase} ${k}`);
    }
  });
}

test('summary counts a dense model at its own class count; predict refuses dense models with one line', { skip: g.skip }, () => {
  const s = spawnSync(process.execPath, [CLI, 'summary', 'deeplabv3_mobilevitv3_0.5_voc'], { encoding: 'utf8' });
  assert.equal(s.status, 0, s.stderr);
  assert.match(s.stdout, /total\s+6,301,710/);
  const p = spawnSync(process.execPath, [CLI, 'predict', 'ssdlite_mobilevitv3_xxs_coco', '--weights', join(g.dir, 'dense', 'pt', 'ssdlite_mobilevitv3_xxs_coco.pt'), join(REPO_ROOT, 'assets', 'samples', 'bag.png')], { encoding: 'utf8' });
  assert.equal(p.status, 1);
  assert.equal(p.stderr.trim().split('\n').length, 1);
  assert.match(p.stderr, /^hybridvision: error: ssdlite_mobilevitv3_xxs_coco is a detection model/);
});

/** The transform flags that reproduce a RetinaNet golden case's GeneralizedRCNNTransform. */
function transformArgs(man: any): string[] {
  const t = man.transform;
  return ['--min-size', `${t.min_size}`, '--max-size', `${t.max_size}`, '--mean', t.image_mean.join(','), '--std', t.image_std.join(','), '--size-divisible', `${t.size_divisible}`];
}

/** Every tensor of a RetinaNet golden io file against `run`'s output, with the manifest's check protocol. */
function checkRetinaRun(ours: Map<string, HostTensor>, io: Map<string, HostTensor>, man: any, label: string): void {
  const tol = man.tolerance_suggestion;
  const images = new Set<number>();
  for (const [k, ref] of io) {
    if (k.startsWith('input.')) continue;
    const o = ours.get(k);
    assert.ok(o, `${label}: run wrote ${k}`);
    const det = /^(pre_nms|det)\.(\d+)\.(boxes|scores|labels|anchor_idx)$/.exec(k) ?? /^nms_keep\.(\d+)$/.exec(k);
    if (det) images.add(Number(det[2] ?? det[1]));
    else if (/^[CP]\d$/.test(k)) assertClose(o, ref, 1e-4 * maxAbs(ref), 1e-3, `${label} ${k}`);
    else if (k.startsWith('cls_logits')) assertClose(o, ref, tol.cls_logits_atol, tol.head_rtol, `${label} ${k}`);
    else if (k.startsWith('bbox_regression')) assertClose(o, ref, tol.bbox_regression_atol, tol.head_rtol, `${label} ${k}`);
    else if (k === 'anchors' || k === 'batched_input') assertClose(o, ref, 0, 0, `${label} ${k}`);
    else if (k === 'image_sizes') assert.deepEqual([o.shape, [...(o.data as BigInt64Array)]], [ref.shape, [...(ref.data as BigInt64Array)]], `${label} ${k}`);
    else assert.fail(`${label}: no check for golden tensor ${k}`);
  }
  assert.deepEqual([...images].sort(), man.image_sizes.map((_: unknown, b: number) => b), `${label}: detections of every image`);
  // candidates and detections as sets of (anchor, label) pairs, then box and score per pair
  const key = (t: Map<string, HostTensor>, p: string) => [...(t.get(`${p}.anchor_idx`)!.data as BigInt64Array)].map((a, i) => `${a}:${(t.get(`${p}.labels`)!.data as BigInt64Array)[i]}`);
  const list = (t: Map<string, HostTensor>, p: string) => ({ keys: key(t, p), scores: t.get(`${p}.scores`)!.data as Float32Array, boxes: t.get(`${p}.boxes`)!.data as Float32Array });
  const ends = man.anchors_per_level.map((_: number, l: number) => man.anchors_per_level.slice(0, l + 1).reduce((a: number, b: number) => a + b, 0));
  const perLevel = (t: Map<string, HostTensor>, p: string) => {
    const n = ends.map(() => 0);
    for (const a of t.get(`${p}.anchor_idx`)!.data as BigInt64Array) n[ends.findIndex((e: number) => Number(a) < e)]++;
    return n;
  };
  for (const b of images) {
    const opt = (what: string) => ({ scoreAtol: tol.det_scores_atol, boxAtol: tol.det_boxes_atol, swapTol: tol.det_scores_atol, label: `${label} ${what}.${b}` });
    compareDetections(list(ours, `pre_nms.${b}`), list(io, `pre_nms.${b}`), opt('pre_nms'));
    assert.deepEqual(perLevel(ours, `pre_nms.${b}`), man.decisions[b].per_level.map((p: any) => p.kept_topk), `${label}: per-level candidates of image ${b}`);
    assert.deepEqual(perLevel(io, `pre_nms.${b}`), man.decisions[b].per_level.map((p: any) => p.kept_topk));
    compareDetections(list(ours, `det.${b}`), list(io, `det.${b}`), opt('det'));
    // nms_keep indexes each side's own candidate order: compare the pairs it keeps
    const kept = (t: Map<string, HostTensor>) => new Set([...(t.get(`nms_keep.${b}`)!.data as BigInt64Array)].map((i) => key(t, `pre_nms.${b}`)[Number(i)]));
    assert.deepEqual(kept(ours), kept(io), `${label}: nms_keep.${b}`);
  }
}

const retinaDir = g.skip ? '' : join(g.dir, 'retinanet_mf');

for (const name of RETINA_FORWARD_CASES) {
  test(`run retinanet_<variant> on the golden ${name} io file (input.<i> images, transform flags from the manifest): every golden tensor`, { skip: g.skip }, async () => {
    const man = retinaManifest(retinaDir, name);
    const tmp = mkdtempSync(join(tmpdir(), 'hv-run-retina-'));
    const weights = join(tmp, 'w.safetensors');
    writeFileSync(weights, writeSafetensors(await retinaCaseWeights(retinaDir, man, name)));
    const ioFile = join(retinaDir, `${name}.io.safetensors`);
    const io = readSafetensors(readFileSync(ioFile)).tensors;
    const inputs = [{ label: 'input.<i>', file: ioFile }];
    if (man.image_sizes.every(([h, w]: number[]) => h === man.image_sizes[0][0] && w === man.image_sizes[0][1])) {
      // one image size: the same images as one 'input' [N, 3, H, W] must give the same outputs
      const imgs = man.image_sizes.map((_: unknown, i: number) => io.get(`input.${i}`)!);
      const [, H, W] = imgs[0].shape;
      const data = new Float32Array(imgs.length * 3 * H * W);
      imgs.forEach((t: HostTensor, i: number) => data.set(t.data as Float32Array, i * 3 * H * W));
      const file = join(tmp, 'batch.safetensors');
      writeFileSync(file, writeSafetensors({ input: { dtype: 'float32', shape: [imgs.length, 3, H, W], data } }));
      inputs.push({ label: 'input', file });
    }
    try {
      for (const { label, file } of inputs) {
        const out = join(tmp, 'out.safetensors');
        const r = cli('run', `retinanet_${man.variant}`, '--weights', weights, '--input', file, '--output', out, ...transformArgs(man));
        assert.equal(r.code, 0, r.err);
        checkRetinaRun(readSafetensors(readFileSync(out)).tensors, io, man, `${name} (${label})`);
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true }); // the weights are 58 MB
    }
  });
}

test('run: bad input files and transform flags give one line, exit 1 and write nothing', { skip: g.skip }, () => {
  const tmp = mkdtempSync(join(tmpdir(), 'hv-run-bad-'));
  const img = (shape: number[]): HostTensor => ({ dtype: 'float32', shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) });
  const file = (n: string, t: Record<string, HostTensor>) => {
    const p = join(tmp, `${n}.safetensors`);
    writeFileSync(p, writeSafetensors(t));
    return p;
  };
  const ssd = ['ssdlite_mobilevitv3_xxs_coco', '--weights', join(g.dir, 'dense', 'pt', 'ssdlite_mobilevitv3_xxs_coco.pt')];
  const retina = ['retinanet_mobile_former_26m', '--weights', join(tmp, 'absent.safetensors')];
  const out = join(tmp, 'out.safetensors');
  const cases: [string[], string, RegExp][] = [
    [retina, file('none', { image: img([1, 3, 32, 32]) }), /has no tensor named 'input'/],
    [retina, file('rank3', { input: img([3, 32, 32]) }), /run expects input \[N, 3, H, W\], got \[3, 32, 32\]/],
    [retina, file('rank4', { 'input.0': img([1, 3, 32, 32]) }), /run expects input\.0 \[3, H, W\], got \[1, 3, 32, 32\]/],
    [retina, file('chans', { input: img([1, 4, 32, 32]) }), /run expects input \[N, 3, H, W\], got \[1, 4, 32, 32\]/],
    [retina, file('gap', { 'input.0': img([3, 32, 32]), 'input.2': img([3, 32, 32]) }), /no 'input\.1'; they must be input\.0 … input\.1/],
    [retina, file('both', { input: img([1, 3, 32, 32]), 'input.0': img([3, 32, 32]) }), /holds both 'input' and 'input\.0'/],
    [retina, file('name', { 'input.x': img([3, 32, 32]) }), /'input\.x' is not input\.<index>/],
    [ssd, file('sizes', { 'input.0': img([3, 64, 64]), 'input.1': img([3, 32, 64]) }), /takes images of one size: input\.0 is 64x64, input\.1 is 32x64/],
  ];
  for (const [model, input, pattern] of cases) {
    assertOneLineError(cli('run', ...model, '--input', input, '--output', out), pattern);
    assert.ok(!existsSync(out), `${input}: nothing written`);
  }
  const ok = file('ok', { input: img([1, 3, 64, 64]) });
  assertOneLineError(cli('run', ...ssd, '--input', ok, '--output', out, '--min-size', '64'), /--min-size is RetinaNet's transform/);
  assertOneLineError(cli('run', ...retina, '--input', ok, '--output', out, '--std', '1,0,1'), /--std needs 3 comma-separated positive numbers/);
  assertOneLineError(cli('run', ...retina, '--input', ok, '--output', out, '--mean', '0,0'), /--mean needs 3 comma-separated numbers/);
  assert.ok(!existsSync(out));
});
