import { assertOneLineError, cli, CLI } from './helpers/cli.js';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { readSafetensors, writeSafetensors } from '../src/io/safetensors.js';
import { goldenOrSkip, REPO_ROOT } from './helpers/golden.js';
import { buildZip } from './helpers/pickle_writer.js';
import { assertClose, loadCase } from './helpers/compare.js';

const g = goldenOrSkip();
const tmp = mkdtempSync(join(tmpdir(), 'hv-cli-'));



test('models lists every variant with live counts', () => {
  const r = cli('models', 'mobilevitv3_xx*');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /mobilevitv3_xxs\s+256\s+1\.249\s+1\.2\s+332\.2/);
  assert.match(r.out, /mobilevitv3_xxs_l2/);
});

test('summary prints per-stage rows summing to the model totals', () => {
  const r = cli('summary', 'mobilevitv3_0.5', '--size', '256', '256');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /layer_3\s+\[1, 128, 32, 32\]/);
  assert.match(r.out, /total\s+1,429,985\s+479\.8/);
});

test('unknown model, unknown command and bad options give one-line errors', () => {
  assertOneLineError(cli('summary', 'mobilevit_huge'), /unknown model 'mobilevit_huge'/);
  assertOneLineError(cli('frobnicate'), /unknown command/);
  assertOneLineError(cli('summary', 'mobilevitv3_xxs', '--size', 'abc'), /--size/);
});

test('every command answers --help with its usage and options (exit 0); a value outside an option\'s choices is a one-line error', () => {
  const top = cli('--help');
  assert.equal(top.code, 0, top.err);
  const names = [...top.out.matchAll(/^  ([\w-]+) /gm)].map((m) => m[1]);
  assert.deepEqual(names, ['models', 'summary', 'predict', 'segment', 'detect', 'run', 'import', 'export', 'bench', 'train', 'eval', 'coco-eval', 'data']);
  for (const name of names) {
    const r = cli(name, '--help');
    assert.equal(r.code, 0, `${name}: ${r.err}`);
    assert.match(r.out, new RegExp(`^usage: hybridvision ${name}`));
    assert.equal(cli('help', name).out, r.out);
  }
  const train = cli('train', '-h').out;
  for (const o of ['--data SRC', '--schedule cosine|step', '--optimizer adamw|sgd', '--no-nesterov', '--freeze backbone', '--val FRACTION', '--resume']) assert.ok(train.includes(o), o);
  assertOneLineError(cli('train', 'mobilevitv3_xxs', '--data', 'fashion-mnist', '--optimizer', 'sgdd'), /--optimizer must be one of adamw, sgd, got 'sgdd'/);
  assertOneLineError(cli('train', 'mobilevitv3_xxs', '--data', 'fashion-mnist', '--freeze', 'head'), /--freeze must be one of backbone/);
  assertOneLineError(cli('summary'), /expected one model name \(usage: hybridvision summary <model>/);
});

test('missing, truncated and corrupt weight files give one-line errors', () => {
  const img = join(REPO_ROOT, 'test', 'fixtures', 'images', 'test.png');
  assertOneLineError(cli('predict', 'mobilevitv3_xxs', '--weights', join(tmp, 'nope.safetensors'), img), /nope\.safetensors/);
  const trunc = join(tmp, 'trunc.safetensors');
  writeFileSync(trunc, new Uint8Array([200, 0, 0, 0, 0, 0, 0, 0, 123]));
  assertOneLineError(cli('predict', 'mobilevitv3_xxs', '--weights', trunc, img), /trunc\.safetensors/);
  const garbage = join(tmp, 'garbage.pt');
  writeFileSync(garbage, new TextEncoder().encode('this is not a checkpoint at all'));
  assertOneLineError(cli('import', garbage, '-o', join(tmp, 'x.safetensors')), /unrecognised checkpoint format|garbage\.pt/);
});

test('a pickle naming os.system is rejected without executing anything', () => {
  // protocol 2: GLOBAL 'os system', MARK, 'touch pwned', TUPLE, REDUCE, STOP
  const marker = join(tmp, 'pwned');
  const enc = new TextEncoder();
  const cmd = enc.encode(`touch ${marker}`);
  const bytes = new Uint8Array([0x80, 0x02, ...enc.encode('cos\nsystem\n'), 0x28, 0x58, cmd.length, 0, 0, 0, ...cmd, 0x74, 0x52, 0x2e]);
  const f = join(tmp, 'evil.pth');
  writeFileSync(f, buildZip([{ name: 'evil/data.pkl', data: bytes }, { name: 'evil/version', data: enc.encode('3\n') }]));
  assertOneLineError(cli('import', f, '-o', join(tmp, 'evil.safetensors')), /disallowed Python global: os\.system/);
  assert.throws(() => readFileSync(marker));
});

test('wrong keys or shapes name what is missing or mismatched', { skip: g.skip }, () => {
  const w = join(g.dir, 'mobilevitv3_xs_nc10_128.weights.safetensors');
  const img = join(REPO_ROOT, 'test', 'fixtures', 'images', 'test.png');
  assertOneLineError(cli('predict', 'mobilevitv3_xxs', '--weights', w, img), /mismatch|missing|unexpected/);
  const sd = readSafetensors(readFileSync(w)).tensors;
  sd.delete('layer_3.1.fusion.block.norm.weight');
  const f = join(tmp, 'missing.safetensors');
  writeFileSync(f, writeSafetensors(sd));
  assertOneLineError(cli('predict', 'mobilevitv3_xs', '--weights', f, img), /layer_3\.1\.fusion\.block\.norm\.weight/);
});

test('unreadable image and wrong input rank give one-line errors', { skip: g.skip }, () => {
  const w = join(g.dir, 'mobilevitv3_xs_nc10_128.weights.safetensors');
  const bad = join(tmp, 'bad.jpg');
  writeFileSync(bad, new Uint8Array([0xff, 0xd8, 0xff, 0, 1, 2, 3]));
  const r = cli('predict', 'mobilevitv3_xs', '--weights', w, bad);
  assert.equal(r.code, 1);
  assert.deepEqual(r.err.trim().split('\n').map((l) => l.replace(/cannot read image .*bad\.jpg.*/, 'BAD')), ['hybridvision: error: BAD', 'hybridvision: 1 of 1 image could not be read']);
  const inp = join(tmp, 'rank3.safetensors');
  writeFileSync(inp, writeSafetensors({ input: { dtype: 'float32', shape: [3, 32, 32], data: new Float32Array(3 * 32 * 32) } }));
  assertOneLineError(cli('run', 'mobilevitv3_xs', '--weights', w, '--input', inp, '--output', join(tmp, 'o.safetensors')), /expects input \[N, 3, H, W\], got \[3, 32, 32\]/);
});

test('run reproduces golden logits; export writes an ONNX file that onnxruntime runs to the same logits', { skip: g.skip }, async () => {
  const kase = 'mobilevitv3_0.5_nc10_128';
  const c = loadCase(g.dir, kase);
  const w = join(g.dir, `${kase}.weights.safetensors`);
  const out = join(tmp, 'logits.safetensors');
  const r = cli('run', 'mobilevitv3_0.5', '--weights', w, '--input', join(g.dir, `${kase}.io.safetensors`), '--output', out);
  assert.equal(r.code, 0, r.err);
  const tol = c.manifest.tolerance_suggestion;
  assertClose(readSafetensors(readFileSync(out)).tensors.get('logits')!, c.io.get('logits')!, tol.logits_atol, tol.logits_rtol, 'run logits');

  const onnx = join(tmp, 'm.onnx');
  const e = cli('export', 'mobilevitv3_0.5', '--weights', w, '-o', onnx, '--size', '128', '128', '--batch', '2');
  assert.equal(e.code, 0, e.err);
  const s = await ort.InferenceSession.create(onnx);
  const x = c.io.get('input')!;
  const y = await s.run({ input: new ort.Tensor('float32', x.data as Float32Array, x.shape) });
  const logits = { dtype: 'float32' as const, shape: [...y.logits.dims], data: y.logits.data as Float32Array };
  assertClose(logits, c.io.get('logits')!, tol.logits_atol, tol.logits_rtol, 'exported ONNX logits');
});

test('import converts a .pt checkpoint to safetensors and detects the model', { skip: g.skip }, () => {
  const out = join(tmp, 'imported.safetensors');
  const r = cli('import', join(g.dir, 'pt', 'mobilevitv3_xxs_nc10_pt.pt'), '-o', out);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /mobilevitv3_xxs: 311 tensors, 10 classes/);
  const sd = readSafetensors(readFileSync(out));
  assert.equal(sd.tensors.size, 311);
  assert.equal(sd.metadata.model, 'mobilevitv3_xxs');
});

test('fine-tuning: train --weights official --freeze backbone gives a new 10-class head, untouched convs, official keys, ONNX export', { skip: g.skip || (existsSync('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz') ? false : 'Fashion-MNIST not installed') }, async () => {
  const src = join(g.dir, 'mobilevitv3_xxs_nc1000_256.weights.safetensors');
  const out = join(tmp, 'ft');
  const r = cli('train', 'mobilevitv3_xxs', '--data', 'fashion-mnist', '--weights', src, '--freeze', 'backbone', '--limit', '96', '--batch', '16', '--epochs', '1', '--size', '32', '--val', '0', '--out', out);
  assert.equal(r.code, 0, r.err);
  const before = readSafetensors(readFileSync(src)).tensors;
  const after = readSafetensors(readFileSync(join(out, 'model.safetensors')));
  assert.equal(after.metadata.model, 'mobilevitv3_xxs');
  assert.deepEqual(JSON.parse(after.metadata.labels).length, 10);
  assert.deepEqual([...after.tensors.keys()].sort(), [...before.keys()].sort());
  assert.deepEqual(after.tensors.get('classifier.fc.weight')!.shape, [10, 512]);
  assert.deepEqual(after.tensors.get('layer_3.1.fusion.block.conv.weight')!.data, before.get('layer_3.1.fusion.block.conv.weight')!.data);
  assert.ok(existsSync(join(out, 'report.html')));
  const onnx = join(tmp, 'ft.onnx');
  const e = cli('export', 'mobilevitv3_xxs', '--weights', join(out, 'model.safetensors'), '-o', onnx);
  assert.equal(e.code, 0, e.err);
  assert.match(e.out, /input 'input' \[1, 3, 32, 32\]/);
});

test('predict: each unreadable image on its own line, the others classified, exit 1 at the end', { skip: g.skip }, () => {
  const w = join(g.dir, 'mobilevitv3_xs_nc10_128.weights.safetensors');
  const bad = join(tmp, 'bad2.png');
  writeFileSync(bad, 'not an image');
  const good = join(REPO_ROOT, 'assets', 'samples', 'bag.png');
  const r = cli('predict', 'mobilevitv3_xs', '--weights', w, good, bad, join(tmp, 'missing.jpg'), good, '--top', '2', '--json');
  assert.equal(r.code, 1, r.err);
  const errs = r.err.trim().split('\n');
  assert.equal(errs.length, 1, r.err);
  assert.match(errs[0], /^hybridvision: 2 of 4 images could not be read$/);
  const res = JSON.parse(r.out);
  assert.deepEqual(res.map((x: any) => (x.error ? 'error' : x.predictions.length)), [2, 'error', 'error', 2]);
  assert.match(res[1].error, /bad2\.png/);
  assert.match(res[2].error, /missing\.jpg: no such file/);
  const text = cli('predict', 'mobilevitv3_xs', '--weights', w, bad, good);
  assert.equal(text.code, 1);
  assert.match(text.err, /^hybridvision: error: cannot read image .*bad2\.png.*\nhybridvision: 1 of 2 images could not be read\n$/);
  assert.match(text.out, /bag\.png\n +\d+\.\d+%  /);
});

test('--version prints the package version; export --features help says what the graph outputs', () => {
  const v = cli('--version');
  assert.equal(v.code, 0);
  assert.equal(v.out.trim(), JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).version);
  assert.match(cli('export', '--help').out, /--features +also output every stage's feature map/);
  assert.match(cli('predict', '--help').out, /'pretrained'/);
});

test('train: Ctrl-C after an epoch names the checkpoint and the --resume command (exit 130)', { skip: existsSync('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz') ? false : 'Fashion-MNIST not installed' }, async () => {
  const { spawn } = await import('node:child_process');
  const out = join(tmp, 'interrupted');
  const args = ['train', 'mobilevitv3_xxs', '--data', 'fashion-mnist', '--limit', '64', '--batch', '32', '--epochs', '40', '--size', '32', '--val', '0', '--out', out];
  const p = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let sent = false;
  p.stderr.on('data', (d) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => {
    p.stdout.on('data', (d) => {
      stdout += d;
      if (!sent && /epoch 2\/40: train loss/.test(stdout)) sent = p.kill('SIGINT');
    });
    p.on('exit', (c, sig) => resolve(c ?? (sig as unknown as number)));
  });
  assert.equal(code, 130, `${stderr}\n${stdout}`);
  assert.match(stderr, /interrupted: .*checkpoint\.safetensors holds epoch \d+\/40; continue with: hybridvision train .* --resume/);
  assert.ok(existsSync(join(out, 'checkpoint.safetensors')));
  assert.match(stdout, /train loss \d\.\d{4} \(label-smoothed\)/);
});

test('eval on a 2-class folder reports top-1 and no top-5 (top-k needs more than k classes)', async () => {
  const sharp = (await import('sharp')).default;
  const { mkdirSync } = await import('node:fs');
  const { createModel } = await import('../src/models/registry.js');
  const { modelToSafetensors } = await import('../src/models/model_file.js');
  const data = join(tmp, 'two-classes');
  for (const [c, v] of [['cat', 40], ['dog', 200]] as const) {
    mkdirSync(join(data, c), { recursive: true });
    for (let i = 0; i < 3; i++) await sharp(Buffer.alloc(24 * 24 * 3, v + 10 * i), { raw: { width: 24, height: 24, channels: 3 } }).png().toFile(join(data, c, `${i}.png`));
  }
  const m = createModel('mobilevitv3_xxs', { numClasses: 2, labels: ['cat', 'dog'], cfg: { inputSize: [32, 32], cropPct: 1 } });
  const file = join(tmp, 'two.safetensors');
  writeFileSync(file, modelToSafetensors(m));
  const r = cli('eval', '--weights', file, '--data', data);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^mobilevitv3_xxs on .*two-classes \(all images, 6\): top-1 \d+\.\d\d%\n/);
  assert.doesNotMatch(r.out, /top-5/);
  assert.match(r.out, /\ncat +\d+\.\d\d\ndog +\d+\.\d\d/);
});
