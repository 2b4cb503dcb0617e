/** `hybridvision run <dense model>` writes every tensor the golden io files name (checked against them). */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readSafetensors } from '../src/io/safetensors.js';
import { assertClose } from './helpers/compare.js';
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
