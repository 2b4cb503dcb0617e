/**
 * Pretrained weights end to end, served from a local HTTP server on 127.0.0.1 (never the internet):
 * download, conversion and cache; resume after a truncated download; checksum mismatch; server
 * error; offline mode; the by-hand path for Google Drive hosts; the release-zip path of MobileViTv3
 * checked against golden logits.
 */
import '../src/node.js';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { writeSafetensors } from '../src/io/safetensors.js';
import { createModel } from '../src/models/registry.js';
import { pipeline } from '../src/pipeline.js';
import { f32, HybridVisionError, type HostTensor } from '../src/tensor.js';
import { weightSource } from '../src/hub/sources.js';
import { getModelSpec } from '../src/models/registry.js';
import type { DownloadProgress } from '../src/hub/hooks.js';
import { goldenOrSkip } from './helpers/golden.js';
import { assertClose, loadCase } from './helpers/compare.js';
import { buildZip } from './helpers/pickle_writer.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
const routes = new Map<string, Handler>();
const requests: { url: string; range?: string }[] = [];
const server = createServer((req, res) => {
  requests.push({ url: req.url!, range: req.headers.range });
  const h = routes.get(req.url!);
  if (h) return h(req, res);
  res.writeHead(404).end('not found');
});
let base = '';

before(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => server.close());

/** Breaks the connection of a cut response; set while one is open. */
let breakConnection: (() => void) | undefined;

/**
 * Serves `bytes` with Range support; `cutAt` (first request only) sends that many bytes and leaves
 * the connection open for `cutOnceReceived` to break.
 */
function serveFile(path: string, bytes: Uint8Array, opts: { cutAt?: number } = {}) {
  let cut = opts.cutAt;
  routes.set(path, (req, res) => {
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const from = m ? Number(m[1]) : 0;
    const body = bytes.subarray(from);
    const range = m ? { 'content-range': `bytes ${from}-${bytes.length - 1}/${bytes.length}` } : {};
    res.writeHead(m ? 206 : 200, { 'content-length': String(body.length), 'content-type': 'application/octet-stream', ...range });
    if (cut !== undefined) {
      res.write(body.subarray(0, cut));
      cut = undefined;
      const socket = res.socket;
      breakConnection = () => socket?.destroy();
      return;
    }
    res.end(body);
  });
}

/**
 * A progress callback that breaks the open cut response once the client has stored `n` bytes.
 * Breaking on a timer instead raced the client: bytes still in flight were lost on a loaded machine.
 */
const cutOnceReceived = (n: number) => (p: DownloadProgress) => {
  if (p.status === 'progress' && p.loaded === n && breakConnection) {
    breakConnection();
    breakConnection = undefined;
  }
};

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function checkpointBytes(name: string, seed: number): { bytes: Uint8Array; sd: Map<string, HostTensor> } {
  const sd = createModel(name, { seed }).stateDict();
  return { bytes: writeSafetensors(Object.fromEntries(sd)), sd };
}

const freshCache = () => mkdtempSync(join(tmpdir(), 'hv-cache-'));

test('sources: CVNets files are direct, MobileViTv3 release pages become release-asset zips, Google Drive is by hand', () => {
  const v1 = weightSource(getModelSpec('mobilevit_xxs'));
  assert.deepEqual([v1?.kind, v1?.kind === 'download' && v1.url], ['download', 'https://docs-assets.developer.apple.com/ml-research/models/cvnets/classification/mobilevit_xxs.pt']);
  const v3 = weightSource(getModelSpec('mobilevitv3_xxs'));
  assert.ok(v3?.kind === 'download');
  assert.equal(v3.url, 'https://github.com/micronDLA/MobileViTv3/releases/download/v1.0.0/mobilevitv3_XXS_e300_7098.zip');
  assert.equal(v3.member, 'checkpoint_ema_best.pt');
  assert.equal(weightSource(getModelSpec('mobile_former_26m'))?.kind, 'manual');
  const mirrored = weightSource(getModelSpec('mobilevit_xxs'), { baseUrl: 'http://127.0.0.1:1/' });
  assert.ok(mirrored?.kind === 'download' && mirrored.url === 'http://127.0.0.1:1/mobilevit_xxs/mobilevit_xxs.pt');
});

test('createModel(name, { pretrained: true }): downloads, checks, converts and caches; the digest lies beside the file; the second load is offline', async () => {
  const { bytes, sd } = checkpointBytes('mobilevit_xxs', 11);
  serveFile('/mobilevit_xxs/mobilevit_xxs.pt', bytes);
  const cacheDir = freshCache();
  const events: DownloadProgress[] = [];
  const m = await createModel('mobilevit_xxs', { pretrained: true, cacheDir, baseUrl: base, progress: (p) => events.push(p) });
  assert.equal(m.numClasses, 1000);
  assert.equal(m.cfg.numClasses, 1000);
  const k = 'classifier.fc.weight';
  assert.deepEqual(m.stateDict().get(k)!.data, sd.get(k)!.data);
  const dir = join(cacheDir, 'mobilevit_xxs');
  assert.ok(existsSync(join(dir, 'model.safetensors')));
  assert.equal(readFileSync(join(dir, 'mobilevit_xxs.pt.sha256'), 'utf8'), `${sha(bytes)}  mobilevit_xxs.pt\n`);
  assert.deepEqual(events.map((e) => e.status).filter((s, i, a) => a.indexOf(s) === i), ['initiate', 'progress', 'done', 'ready']);
  const last = events.filter((e) => e.status === 'progress').at(-1)!;
  assert.equal(last.loaded, bytes.length);
  assert.equal(last.progress, 100);

  const before = requests.length;
  const again = await createModel('mobilevit_xxs', { pretrained: true, cacheDir, baseUrl: base, offline: true });
  assert.equal(requests.length, before, 'the cached model needs no request');
  assert.deepEqual(again.stateDict().get(k)!.data, sd.get(k)!.data);
  await m.dispose();
  await again.dispose();
});

test('a truncated download fails with a one-line error, keeps the partial file, and the next call resumes it with a Range request', async () => {
  const { bytes } = checkpointBytes('mobilevit_xs', 12);
  const cut = Math.floor(bytes.length / 3);
  serveFile('/mobilevit_xs/mobilevit_xs.pt', bytes, { cutAt: cut });
  const cacheDir = freshCache();
  await assert.rejects(createModel('mobilevit_xs', { pretrained: true, cacheDir, baseUrl: base, progress: cutOnceReceived(cut) }), (e: Error) => e instanceof HybridVisionError && /broke off|cut short/.test(e.message) && /run again to resume/.test(e.message));
  const part = join(cacheDir, 'mobilevit_xs', 'mobilevit_xs.pt.part');
  assert.equal(readFileSync(part).length, cut);
  assert.ok(!existsSync(join(cacheDir, 'mobilevit_xs', 'mobilevit_xs.pt')), 'no complete-looking file after a cut');
  const m = await createModel('mobilevit_xs', { pretrained: true, cacheDir, baseUrl: base });
  assert.equal(requests.at(-1)!.range, `bytes=${cut}-`);
  assert.equal(sha(readFileSync(join(cacheDir, 'mobilevit_xs', 'mobilevit_xs.pt'))), sha(bytes));
  await m.dispose();
});

test('resuming from a server that ignores Range starts the file over (no doubled bytes)', async () => {
  const { bytes } = checkpointBytes('mobilevitv2_1.25', 14);
  serveFile('/mobilevitv2_1.25/mobilevitv2-1.25.pt', bytes, { cutAt: 1000 });
  const cacheDir = freshCache();
  await assert.rejects(createModel('mobilevitv2_1.25', { pretrained: true, cacheDir, baseUrl: base, progress: cutOnceReceived(1000) }), /run again to resume/);
  routes.set('/mobilevitv2_1.25/mobilevitv2-1.25.pt', (_q, res) => res.writeHead(200, { 'content-length': String(bytes.length) }).end(bytes));
  const m = await createModel('mobilevitv2_1.25', { pretrained: true, cacheDir, baseUrl: base });
  assert.equal(requests.at(-1)!.range, 'bytes=1000-');
  assert.equal(sha(readFileSync(join(cacheDir, 'mobilevitv2_1.25', 'mobilevitv2-1.25.pt'))), sha(bytes));
  await m.dispose();
});

test('a checksum mismatch and a server error are one-line errors that leave no cache entry', async () => {
  const { bytes } = checkpointBytes('mobilevit_s', 13);
  serveFile('/mobilevit_s/mobilevit_s.pt', bytes);
  const cacheDir = freshCache();
  const wrong = '0'.repeat(64);
  await assert.rejects(createModel('mobilevit_s', { pretrained: true, cacheDir, baseUrl: base, sha256: wrong }), /checksum mismatch .*sha256 [0-9a-f]{64}, expected 0{64}/);
  assert.ok(!existsSync(join(cacheDir, 'mobilevit_s', 'mobilevit_s.pt')));
  assert.ok(!existsSync(join(cacheDir, 'mobilevit_s', 'mobilevit_s.pt.part')));
  const ok = await createModel('mobilevit_s', { pretrained: true, cacheDir, baseUrl: base, sha256: sha(bytes) });
  await ok.dispose();

  routes.set('/mobilevitv2_0.5/mobilevitv2-0.5.pt', (_q, res) => res.writeHead(500, 'Internal Server Error').end());
  await assert.rejects(createModel('mobilevitv2_0.5', { pretrained: true, cacheDir, baseUrl: base }), (e: Error) => /HTTP 500/.test(e.message) && !e.message.includes('\n'));
  assert.ok(!existsSync(join(cacheDir, 'mobilevitv2_0.5', 'model.safetensors')));
});

test('offline mode never touches the network; a checkpoint that does not fit the model is refused', async () => {
  const cacheDir = freshCache();
  const before = requests.length;
  await assert.rejects(createModel('mobilevit_xxs', { pretrained: true, cacheDir, baseUrl: base, offline: true }), /offline .*not in the cache/);
  process.env.HYBRIDVISION_OFFLINE = '1';
  try {
    await assert.rejects(createModel('mobilevit_xxs', { pretrained: true, cacheDir, baseUrl: base }), /offline/);
  } finally {
    delete process.env.HYBRIDVISION_OFFLINE;
  }
  assert.equal(requests.length, before);

  const wrongArch = checkpointBytes('mobilevit_xs', 1).bytes;
  serveFile('/mobilevitv2_1.0/mobilevitv2-1.0.pt', wrongArch);
  await assert.rejects(createModel('mobilevitv2_1.0', { pretrained: true, cacheDir, baseUrl: base }), (e: Error) => /mobilevitv2-1\.0\.pt: .*(missing|unexpected|shape)/i.test(e.message));
});

test('Google Drive (Mobile-Former): the error names the file, its page and where to put it; once there it loads', async () => {
  const cacheDir = freshCache();
  const dest = join(cacheDir, 'mobile_former_26m', 'mobile-former-26m.pth.tar');
  await assert.rejects(createModel('mobile_former_26m', { pretrained: true, cacheDir }), (e: Error) => e.message.includes('https://drive.google.com/file/d/') && e.message.includes(dest) && /by hand/.test(e.message));
  const { bytes, sd } = checkpointBytes('mobile_former_26m', 5);
  mkdirSync(join(cacheDir, 'mobile_former_26m'), { recursive: true });
  writeFileSync(dest, bytes);
  const m = await createModel('mobile_former_26m', { pretrained: true, cacheDir });
  const k = getModelSpec('mobile_former_26m').classifierKey;
  assert.deepEqual(m.stateDict().get(k)!.data, sd.get(k)!.data);
  await m.dispose();
});

test('pipeline on a zoo name loads the pretrained weights; with pretrained: false it refuses in one line', async () => {
  const cacheDir = freshCache();
  const { bytes } = checkpointBytes('mobilevitv2_0.75', 21);
  serveFile('/mobilevitv2_0.75/mobilevitv2-0.75.pt', bytes);
  const classify = await pipeline('image-classification', 'mobilevitv2_0.75', { cacheDir, baseUrl: base });
  const img = { width: 40, height: 30, data: new Uint8Array(40 * 30 * 3).fill(90) };
  const preds = await classify(img, { topK: 3 });
  assert.equal(preds.length, 3);
  const direct = await classify.model.forward(f32([1, 3, 256, 256]));
  assert.equal(direct.shape[1], 1000);
  await classify.dispose();
  await assert.rejects(pipeline('image-classification', 'mobilevitv2_0.75', { pretrained: false }), (e: Error) => /no weights/.test(e.message) && !e.message.includes('\n'));
  // A path loads the model file with its labels and preprocessing.
  const { REPO_ROOT } = await import('./helpers/golden.js');
  const fromFile = await pipeline('image-classification', join(REPO_ROOT, 'assets', 'default', 'model.safetensors'));
  assert.equal(fromFile.model.labels?.[8], 'Bag');
  assert.equal((await fromFile(join(REPO_ROOT, 'assets', 'samples', 'bag.png'), { topK: 1 }))[0].label, 'Bag');
  await fromFile.dispose();
});

const g = goldenOrSkip();
test('MobileViTv3: the release zip is unpacked and its checkpoint_ema_best.pt gives the official logits; a missing asset points at the release page', { skip: g.skip }, async () => {
  const pt = readFileSync(join(g.dir, 'pt', 'mobilevitv3_xxs_nc10_pt.pt'));
  const zip = buildZip([{ name: 'mobilevitv3_XXS_e300_7098/checkpoint_ema_best.pt', data: pt }, { name: 'mobilevitv3_XXS_e300_7098/config.yaml', data: new TextEncoder().encode('model: {}\n') }]);
  serveFile('/mobilevitv3_xxs/mobilevitv3_XXS_e300_7098.zip', zip);
  const cacheDir = freshCache();
  const m = await createModel('mobilevitv3_xxs', { pretrained: true, cacheDir, baseUrl: base });
  assert.equal(m.cfg.numClasses, 10);
  const c = loadCase(join(g.dir, 'pt'), 'mobilevitv3_xxs_nc10_pt');
  assertClose(await m.forward(c.io.get('input')!), c.io.get('logits')!, 1e-4, 1e-4, 'logits');
  await m.dispose();
  await assert.rejects(createModel('mobilevitv3_s', { pretrained: true, cacheDir, baseUrl: base }), (e: Error) => /HTTP 404/.test(e.message) && e.message.includes('releases/tag/v1.0.0') && e.message.includes('mobilevitv3_S_e300_7930.pt'));
});

test('CLI: predict --weights pretrained fetches into $HYBRIDVISION_CACHE from $HYBRIDVISION_BASE_URL; offline without a cache entry is one error line', async () => {
  const { execFile } = await import('node:child_process');
  const { REPO_ROOT } = await import('./helpers/golden.js');
  const cli = join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');
  const { bytes } = checkpointBytes('mobilevitv2_0.5', 31);
  serveFile('/mobilevitv2_0.5/mobilevitv2-0.5.pt', bytes);
  const cacheDir = freshCache();
  const run = (env: Record<string, string>, ...args: string[]) =>
    new Promise<{ code: number; out: string; err: string }>((resolve) => {
      execFile(process.execPath, [cli, ...args], { env: { ...process.env, HYBRIDVISION_CACHE: cacheDir, ...env } }, (e, out, err) => resolve({ code: e ? (e.code as number) : 0, out, err }));
    });
  const sample = join(REPO_ROOT, 'assets', 'samples', 'bag.png');
  const off = await run({ HYBRIDVISION_OFFLINE: '1' }, 'predict', 'mobilevitv2_0.5', '--weights', 'pretrained', sample);
  assert.equal(off.code, 1);
  assert.match(off.err, /^hybridvision: error: mobilevitv2_0\.5: offline \(HYBRIDVISION_OFFLINE\) .*\n$/);
  const r = await run({ HYBRIDVISION_BASE_URL: base }, 'predict', 'mobilevitv2_0.5', '--weights', 'pretrained', sample, '--top', '2');
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /downloading mobilevitv2_0\.5: mobilevitv2-0\.5\.pt/);
  assert.match(r.out, /bag\.png\n +\d+\.\d+%  .+\n +\d+\.\d+%  .+\n$/);
  assert.ok(existsSync(join(cacheDir, 'mobilevitv2_0.5', 'model.safetensors')));
  const again = await run({ HYBRIDVISION_OFFLINE: '1' }, 'predict', 'mobilevitv2_0.5', '--weights', 'pretrained', sample, '--top', '2');
  assert.equal(again.code, 0, again.err);
  assert.equal(again.out, r.out);
});
