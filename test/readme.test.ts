/**
 * Runs every README block marked `<!-- readme-example -->` as a user would: a module importing
 * 'hybridvision/node' (resolved through the package's own exports), from the repository root. The
 * pretrained weights come from a local server on 127.0.0.1 through HYBRIDVISION_BASE_URL.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { writeSafetensors } from '../src/io/safetensors.js';
import { createModel } from '../src/models/registry.js';
import { REPO_ROOT } from './helpers/golden.js';
import { buildZip } from './helpers/pickle_writer.js';

const run = promisify(execFile);
const blocks = [...readFileSync(join(REPO_ROOT, 'README.md'), 'utf8').matchAll(/<!-- readme-example -->\n```js\n([\s\S]*?)```/g)].map((m) => m[1]);

// A stand-in for the MobileViTv3 release asset: a model folder zip holding checkpoint_ema_best.pt.
const weights = writeSafetensors(Object.fromEntries(createModel('mobilevitv3_xxs', { seed: 3 }).stateDict()));
const zip = buildZip([{ name: 'mobilevitv3_XXS_e300_7098/checkpoint_ema_best.pt', data: weights }]);
const server = createServer((req, res) => {
  if (req.url === '/mobilevitv3_xxs/mobilevitv3_XXS_e300_7098.zip') res.writeHead(200, { 'content-length': String(zip.length) }).end(zip);
  else res.writeHead(404).end();
});
let base = '';
before(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => server.close());

const cache = mkdtempSync(join(tmpdir(), 'hv-readme-cache-'));
const dir = join(REPO_ROOT, 'dist', 'readme-examples');

async function runBlock(i: number): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `example${i}.mjs`);
  writeFileSync(file, blocks[i]);
  const r = await run(process.execPath, [file], { cwd: REPO_ROOT, env: { ...process.env, HYBRIDVISION_CACHE: cache, HYBRIDVISION_BASE_URL: base }, encoding: 'utf8' });
  return r.stdout;
}

test('the README has the three library examples', () => assert.equal(blocks.length, 3));

test('README example 1: loadModelFile restores labels and preprocessing of a trained model', async () => {
  const out = await runBlock(0);
  assert.match(out, /^mobilevitv3_xxs 10 \[ 'T-shirt\/top', 'Trouser', 'Pullover' \] \[ \d+, \d+ \]\n/);
  assert.match(out, /\[ 'Bag', 'Trouser' \]/);
});

test('README example 2: pipeline on a zoo name fetches the pretrained weights and classifies', async () => {
  const out = await runBlock(1);
  assert.match(out, /^[^,\n]+ \d+\.\d%, [^,\n]+ \d+\.\d%, [^,\n]+ \d+\.\d%\n$/);
});

test('README example 3: createModel pretrained (cached by example 2), features, new head', async () => {
  const out = await runBlock(2);
  assert.match(out, /^\d+ MobileViTv3 variants\n/);
  assert.doesNotMatch(out, /downloaded/, 'the weights come from the cache example 2 filled');
  assert.match(out, /\[ 1, 1000 \] \d+ feature maps\n10 10\ntrue\n$/);
});
