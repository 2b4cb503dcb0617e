import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fashionMnistAvailable } from '../src/data/fashion_mnist_node.js';
import { goldenOrSkip, REPO_ROOT } from './helpers/golden.js';

const CLI = join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');
const g = goldenOrSkip();
const tmp = mkdtempSync(join(tmpdir(), 'hv-cli-dense-'));

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
function assertOneLineError(r: ReturnType<typeof cli>, pattern: RegExp) {
  assert.equal(r.code, 1, `exit code (stderr: ${r.err})`);
  const lines = r.err.trim().split('\n');
  assert.equal(lines.length, 1, `one line, got:\n${r.err}`);
  assert.match(lines[0], /^hybridvision: error: /);
  assert.match(lines[0], pattern);
}

test('coco-eval prints the pycocotools summary and per-category AP; --json gives the stats object', { skip: g.skip }, () => {
  const d = join(g.dir, 'eval');
  for (const c of ['coco_noise', 'coco_categories']) {
    const man = JSON.parse(readFileSync(join(d, `${c}.json`), 'utf8'));
    const r = cli('coco-eval', '--gt', join(d, `${c}.gt.json`), '--dt', join(d, `${c}.dt.json`));
    assert.equal(r.code, 0, r.err);
    const lines = r.out.split('\n');
    assert.deepEqual(lines.slice(0, 12), man.summary_printed);
    for (const id of Object.keys(man.per_category)) assert.match(r.out, new RegExp(`^${id}\\s`, 'm'));
    const j = cli('coco-eval', '--gt', join(d, `${c}.gt.json`), '--dt', join(d, `${c}.dt.json`), '--json');
    assert.equal(j.code, 0, j.err);
    const out = JSON.parse(j.out);
    assert.deepEqual(Object.keys(out.stats), man.stats_names);
    man.stats_names.forEach((n: string, i: number) => assert.ok(Math.abs(out.stats[n] - man.stats[i]) <= 1e-9, n));
    for (const [id, v] of Object.entries<any>(man.per_category)) assert.ok(Math.abs(out.per_category[id].AP - v.AP) <= 1e-9);
  }
});

test('coco-eval: missing file, bad JSON and malformed boxes are one-line errors', () => {
  const gt = join(tmp, 'gt.json');
  const dt = join(tmp, 'dt.json');
  writeFileSync(gt, JSON.stringify({ images: [{ id: 1 }], categories: [{ id: 1 }], annotations: [{ id: 1, image_id: 1, category_id: 1, bbox: [0, 0, 5], area: 25 }] }));
  writeFileSync(dt, '[{"image_id": 1, "category_id": 1, "bbox": [0, 0, 5, 5], "score": 0.5}]');
  assertOneLineError(cli('coco-eval', '--gt', gt, '--dt', dt), /annotations\[0\]: bbox must be 4 finite numbers/);
  assertOneLineError(cli('coco-eval', '--gt', join(tmp, 'nope.json'), '--dt', dt), /nope\.json/);
  writeFileSync(join(tmp, 'bad.json'), '{"images": [');
  assertOneLineError(cli('coco-eval', '--gt', join(tmp, 'bad.json'), '--dt', dt), /not valid JSON/);
  assertOneLineError(cli('coco-eval', '--gt', gt), /--gt and --dt are required/);
});

test('data fmnist-scenes writes both formats; bad options and an existing split are one-line errors that write nothing', { skip: fashionMnistAvailable() ? false : 'Fashion-MNIST not installed' }, () => {
  const out = join(tmp, 'scenes');
  const r = cli('data', 'fmnist-scenes', '--out', out, '--count', '5', '--seed', '2', '--split', 'test', '--size', '96');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /wrote 5 test scenes with \d+ objects/);
  const coco = JSON.parse(readFileSync(join(out, 'instances_test.json'), 'utf8'));
  assert.equal(coco.images.length, 5);
  assert.equal(coco.categories.length, 10);
  assert.equal(readFileSync(join(out, 'ImageSets/Segmentation/test.txt'), 'utf8').trim().split('\n').length, 5);
  assertOneLineError(cli('data', 'fmnist-scenes', '--out', out, '--count', '5', '--seed', '2', '--split', 'test'), /already exists/);
  const none = join(tmp, 'none');
  assertOneLineError(cli('data', 'fmnist-scenes', '--out', none, '--count', '5', '--seed', '2', '--size', '40'), /--size must be an integer >= 84/);
  assertOneLineError(cli('data', 'fmnist-scenes', '--out', none, '--count', '0', '--seed', '2'), /--count/);
  assertOneLineError(cli('data', 'imagenet', '--out', none, '--count', '1', '--seed', '2'), /unknown data set 'imagenet'/);
  assert.ok(!existsSync(none));
});
