/**
 * The app in Chromium (Debian's, driven by playwright-core, served with COOP/COEP on 127.0.0.1):
 * classification matches Node's, a .pt checkpoint loads from a user file, the token view draws a
 * heat map, 20 in-page fine-tuning steps (in a Web Worker) lower the loss, and the scenes view's
 * detections and class map equal Node's. Screenshots of each view go to .out/browser/.
 */
import '../src/node.js';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { decodeImageFile } from '../src/data/decode_node.js';
import { readCheckpoint } from '../src/io/torch.js';
import { defaultModelFile } from '../src/cli/assets.js';
import { modelFromBytes } from '../src/models/model_file.js';
import { createModel } from '../src/models/registry.js';
import type { HybridModel } from '../src/models/model.js';
import { imagesToBatch, pipeline, topK } from '../src/pipeline.js';
import { segmentImages, type DetectionObject } from '../src/dense_pipeline.js';
import { chromiumOrSkip, consoleLog, openBrowser, OUT, waitText, type Session } from './helpers/browser.js';
import { goldenDir, REPO_ROOT } from './helpers/golden.js';

const skip = chromiumOrSkip();
const golden = goldenDir();
const SAMPLE = 'ankle_boot.png';

async function nodeLogits(m: HybridModel, sample: string): Promise<Float32Array> {
  const img = await decodeImageFile(join(REPO_ROOT, 'assets', 'samples', sample));
  return (await m.forward(await imagesToBatch(m, [img]))).data as Float32Array;
}

async function pageLogits(page: Page): Promise<{ logits: number[]; top: { index: number; label: string; score: number }[] }> {
  return {
    logits: JSON.parse((await page.getByTestId('logits').textContent()) ?? '[]'),
    top: JSON.parse((await page.getByTestId('predictions').textContent()) ?? '[]'),
  };
}

function assertSameLogits(page: number[], node: Float32Array, atol: number, what: string): number {
  assert.equal(page.length, node.length, `${what}: ${page.length} logits in the page, ${node.length} in Node`);
  let worst = 0;
  for (let i = 0; i < node.length; i++) worst = Math.max(worst, Math.abs(page[i] - node[i]));
  assert.ok(worst <= atol, `${what}: max |page - node| = ${worst} > ${atol}`);
  return worst;
}

const argmax = (x: ArrayLike<number>) => {
  let b = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[b]) b = i;
  return b;
};

describe('app in Chromium', { skip }, () => {
  let s: Session;
  before(async () => {
    const t0 = Date.now();
    s = await openBrowser(golden ? { '/golden/': golden } : {});
    console.log(`# app built and served at ${s.server.url}, Chromium up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  });
  after(async () => {
    await s?.close();
  });

  test('classify: the default model on a sample gives Node\'s top-1 and logits (wasm, threads, cross-origin isolated)', async () => {
    const page = await s.context.newPage();
    const log = consoleLog(page);
    const workers: string[] = [];
    page.on('worker', (w) => workers.push(w.url()));
    try {
      const t0 = Date.now();
      await page.goto(`${s.server.url}?image=/samples/${SAMPLE}`);
      await waitText(page, 'status', /^ready$/);
      // ORT's threads run its small runtime module (wasmPaths), never the app bundle again
      assert.ok(workers.length >= 1, 'onnxruntime-web starts thread workers in an isolated page');
      assert.deepEqual(workers.filter((u) => !/\/ort\/ort-wasm-simd-threaded\.mjs$/.test(u)), []);
      const coldMs = Date.now() - t0;
      const isolated = await page.evaluate(() => crossOriginIsolated);
      assert.equal(isolated, true, 'the server sends COOP/COEP, so the page must be cross-origin isolated');
      const { logits, top } = await pageLogits(page);
      assert.equal(top.length, 5);
      const m = await modelFromBytes(readFileSync(join(REPO_ROOT, 'assets', 'default', 'model.safetensors')));
      const ref = await nodeLogits(m, SAMPLE);
      const worst = assertSameLogits(logits, ref, 1e-3, 'default model');
      assert.equal(top[0].index, argmax(ref), 'top-1');
      assert.equal(top[0].label, topK(m, { dtype: 'float32', shape: [1, ref.length], data: ref }, 1)[0][0].label);
      await m.dispose();
      const timings = await page.getByTestId('timings').textContent();
      console.log(`# classify: top-1 ${top[0].label} (${top[0].score.toFixed(3)}), max |page - node| ${worst.toExponential(2)}, page ready in ${coldMs} ms; ${timings}`);
      await page.screenshot({ path: join(OUT, 'classify.png') });
      // a second visit reads the weights from the Cache API and reuses nothing else from the first page
      const again = await s.context.newPage();
      await again.goto(`${s.server.url}?image=/samples/${SAMPLE}`);
      await waitText(again, 'status', /^ready$/);
      const t = await again.evaluate(() => (window as unknown as { hv: { timings: { weightsCached: boolean; coldStartMs: number } } }).hv.timings);
      assert.equal(t.weightsCached, true, 'weights come from the Cache API on the second visit');
      assert.deepEqual((await pageLogits(again)).logits, logits);
      await again.close();
      console.log(`# second visit: weights from the Cache API, first result ${t.coldStartMs.toFixed(0)} ms after navigation`);
    } catch (e) {
      console.log(log.join('\n'));
      throw e;
    } finally {
      await page.close();
    }
  });

  test('a .pt checkpoint chosen as a user file loads in the page (allowlisting importer) and matches Node', { skip: golden ? false : 'no golden data' }, async () => {
    const page = await s.context.newPage();
    const log = consoleLog(page);
    try {
      await page.goto(`${s.server.url}?model=mobilevitv3_xxs&image=/samples/${SAMPLE}`);
      await waitText(page, 'status', /^ready$/);
      const pt = join(golden!, 'pt', 'mobilevitv3_xxs_nc10_pt.pt');
      await page.getByTestId('checkpoint').setInputFiles(pt);
      await waitText(page, 'logits', /^\[[^,]*(,[^,]*){9}\]$/);
      await waitText(page, 'status', /^ready$/);
      const { logits, top } = await pageLogits(page);
      const m = createModel('mobilevitv3_xxs', { weights: await readCheckpoint(readFileSync(pt), 'pt') });
      const ref = await nodeLogits(m, SAMPLE);
      const worst = assertSameLogits(logits, ref, 1e-3, '.pt weights');
      assert.equal(top[0].index, argmax(ref));
      await m.dispose();
      console.log(`# .pt in the page: 10 classes, max |page - node| ${worst.toExponential(2)}`);
    } catch (e) {
      console.log(log.join('\n'));
      throw e;
    } finally {
      await page.close();
    }
  });

  test('detect & segment: the shipped SSDLite and DeepLabv3 defaults on a sample scene give Node\'s boxes, scores and class map', async () => {
    const page = await s.context.newPage();
    const log = consoleLog(page);
    try {
      const scene = 'test_000000.png';
      await page.goto(`${s.server.url}?view=scenes&scene=/samples/scenes/${scene}`);
      await waitText(page, 'scene-status', /^(ready|error)/, 120_000);
      assert.equal(await page.getByTestId('scene-status').textContent(), 'ready');
      const dets = JSON.parse((await page.getByTestId('detections').textContent()) ?? '[]') as DetectionObject[];
      const pageMap = (await page.evaluate(() => (window as unknown as { hv: { sceneClassMap(): number[] } }).hv.sceneClassMap())) as number[];
      const img = await decodeImageFile(join(REPO_ROOT, 'assets', 'samples', 'scenes', scene));
      const detector = await modelFromBytes(readFileSync(defaultModelFile('detector')));
      const segmenter = await modelFromBytes(readFileSync(defaultModelFile('segmenter')));
      const ref = await (await pipeline('object-detection', detector))(img);
      assert.ok(ref.length >= 1, 'the shipped detector finds something on its own test scene');
      assert.deepEqual(dets.map((d) => d.label), ref.map((d) => d.label), 'the same detections, in the same order');
      let worstBox = 0;
      let worstScore = 0;
      dets.forEach((d, i) => {
        worstScore = Math.max(worstScore, Math.abs(d.score - ref[i].score));
        for (const k of ['xmin', 'ymin', 'xmax', 'ymax'] as const) worstBox = Math.max(worstBox, Math.abs(d.box[k] - ref[i].box[k]));
      });
      assert.ok(worstBox <= 0.05 && worstScore <= 1e-3, `page vs node: box ${worstBox} px, score ${worstScore}`);
      const [map] = await segmentImages(segmenter, [img]);
      assert.equal(pageMap.length, map.width * map.height);
      let differ = 0;
      for (let i = 0; i < pageMap.length; i++) if (pageMap[i] !== map.map[i]) differ++;
      assert.ok(differ <= pageMap.length * 1e-3, `${differ} of ${pageMap.length} pixels get another class in the page`);
      assert.ok(new Set(pageMap).size >= 2, 'the class map has objects, not only background');
      await page.screenshot({ path: join(OUT, 'scenes.png') });
      console.log(`# scenes: ${dets.length} detections (${dets.map((d) => d.label).join(', ')}), max box diff ${worstBox.toExponential(1)} px; class map ${differ} pixels differ; ${await page.locator('#scene-timings').textContent()}`);
      await detector.dispose();
      await segmenter.dispose();
    } catch (e) {
      console.log(log.join('\n'));
      throw e;
    } finally {
      await page.close();
    }
  });

  test('look inside: Mobile-Former token attention draws a non-uniform heat map', { skip: golden ? false : 'no golden data' }, async () => {
    const page = await s.context.newPage();
    const log = consoleLog(page);
    try {
      await page.goto(`${s.server.url}?model=mobile_former_26m&weights=/golden/mobile_former_26m_nc1000_224.weights.safetensors&view=inside&image=/samples/bag.png`);
      await waitText(page, 'inside-status', /^ready$/);
      const options = await page.getByTestId('map-select').locator('option').allTextContents();
      const m2f = options.findIndex((o) => o.includes('mobile_to_former'));
      assert.ok(m2f >= 0 && options.some((o) => o.includes('former_to_mobile')), `map list: ${options.slice(0, 4).join(' | ')}`);
      // every block has both bridges; one more Mobile→Former bridge follows the last block
      const nM2f = options.filter((o) => o.includes('mobile_to_former')).length;
      const nF2m = options.filter((o) => o.includes('former_to_mobile')).length;
      assert.ok(nF2m >= 4 && nM2f === nF2m + 1, `${nM2f} Mobile→Former and ${nF2m} Former→Mobile maps`);
      await page.getByTestId('map-select').selectOption(String(m2f));
      const spread = await page.evaluate(() => {
        const c = document.querySelector<HTMLCanvasElement>('[data-testid=heatmap]')!;
        const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
        let s = 0;
        let s2 = 0;
        const n = d.length / 4;
        for (let i = 0; i < d.length; i += 4) {
          const r = d[i] - d[i + 2]; // red minus blue: hot minus cold
          s += r;
          s2 += r * r;
        }
        return Math.sqrt(s2 / n - (s / n) ** 2);
      });
      assert.ok(spread > 20, `heat map too uniform: std of (red - blue) = ${spread}`);
      const stats = JSON.parse((await page.getByTestId('map-stats').textContent()) ?? '{}');
      assert.equal(stats.kind, 'mobile_to_former');
      assert.ok(stats.max > 1.1 * stats.min, `the attention itself is near uniform: ${JSON.stringify(stats)}`);
      await page.screenshot({ path: join(OUT, 'inside_tokens.png') });
      await page.getByTestId('saliency').click();
      await waitText(page, 'inside-status', /^ready$/);
      await page.screenshot({ path: join(OUT, 'inside_saliency.png') });
      console.log(`# token view: ${options.length} maps, drawn map spread ${spread.toFixed(1)}, ${stats.scope} token ${stats.row}: max/min ${(stats.max / stats.min).toFixed(2)}`);
    } catch (e) {
      console.log(log.join('\n'));
      throw e;
    } finally {
      await page.close();
    }
  });

  test('fine-tune on classes made from dropped images (file inputs), then classify with their names', async () => {
    const page = await s.context.newPage();
    try {
      await page.goto(`${s.server.url}?view=finetune&train=mine&mode=head&steps=4&batch=4&lr=0.01&image=/samples/sneaker.png`);
      await waitText(page, 'status', /^ready$/);
      const boxes = page.locator('.class-box');
      const samples = (f: string[]) => f.map((x) => join(REPO_ROOT, 'assets', 'samples', x));
      await boxes.nth(0).locator('input[type=text], input:not([type])').fill('shoes');
      await boxes.nth(0).locator('input[type=file]').setInputFiles(samples(['sneaker.png', 'sandal.png', 'ankle_boot.png']));
      await boxes.nth(1).locator('input:not([type])').fill('clothes');
      await boxes.nth(1).locator('input[type=file]').setInputFiles(samples(['dress.png', 't_shirt_top.png', 'trouser.png']));
      await page.waitForFunction(() => document.querySelectorAll('.class-box img').length === 6);
      await page.getByTestId('train-start').click();
      assert.match(await waitText(page, 'train-status', /^(done|error)/, 120_000), /^done: 4 steps/);
      await waitText(page, 'status', /^ready$/);
      const top = JSON.parse((await page.getByTestId('predictions').textContent()) ?? '[]') as { label: string }[];
      assert.deepEqual(top.map((p) => p.label).sort(), ['clothes', 'shoes']);
    } finally {
      await page.close();
    }
  });

  test('bad input gives a one-line error status: unknown model, unreadable image', async () => {
    const page = await s.context.newPage();
    try {
      await page.goto(`${s.server.url}?model=no_such_model`);
      assert.match(await waitText(page, 'status', /^error/), /^error: unknown model 'no_such_model'/);
      await page.goto(`${s.server.url}?image=/samples/missing.png`);
      assert.match(await waitText(page, 'status', /^error/), /^error: cannot fetch image .*missing\.png: HTTP 404$/);
      await page.goto(`${s.server.url}?image=/samples/index.json`);
      assert.match(await waitText(page, 'status', /^error/), /^error: cannot decode .* as an image/);
    } finally {
      await page.close();
    }
  });

  test('fine-tune: 20 in-page steps in a Web Worker lower the loss, and the result classifies and downloads', async () => {
    const page = await s.context.newPage();
    const log = consoleLog(page);
    try {
      await page.goto(`${s.server.url}?view=finetune&train=bundled&mode=head&steps=20&batch=16&lr=0.01&autostart=1`);
      const done = await waitText(page, 'train-status', /^(done|error)/, 240_000);
      assert.match(done, /^done/);
      const r = JSON.parse((await page.getByTestId('train-log').textContent()) ?? '{}');
      assert.equal(r.losses.length, 20);
      const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
      const first = mean(r.losses.slice(0, 5));
      const last = mean(r.losses.slice(-5));
      assert.ok(last < first * 0.8, `loss did not fall: first 5 steps ${first.toFixed(3)}, last 5 ${last.toFixed(3)}`);
      await waitText(page, 'status', /^ready$/);
      const top = JSON.parse((await page.getByTestId('predictions').textContent()) ?? '[]');
      assert.equal(top.length, 5);
      assert.equal(await page.getByTestId('download-safetensors').isVisible(), true);
      // the download is a hybridvision file with official keys: Node loads it and gives the page's logits
      const bytes = new Uint8Array(
        await page.evaluate(async () => [...new Uint8Array(await (await fetch(document.querySelector<HTMLAnchorElement>('[data-testid=download-safetensors]')!.href)).arrayBuffer())]),
      );
      const m = await modelFromBytes(bytes);
      assert.equal(m.numClasses, 10);
      assert.deepEqual([...m.stateDict().keys()].sort(), [...createModel(m.name, { numClasses: 10 }).stateShapes().keys()].sort());
      const { logits } = await pageLogits(page);
      assertSameLogits(logits, await nodeLogits(m, 'ankle_boot.png'), 1e-3, 'fine-tuned model');
      await m.dispose();
      await page.screenshot({ path: join(OUT, 'finetune.png') });
      console.log(`# fine-tune: loss ${first.toFixed(3)} -> ${last.toFixed(3)} (first/last 5 of 20 steps), ${r.imgPerSec.toFixed(1)} img/s at ${r.size}², compile ${(r.compileMs / 1000).toFixed(1)} s`);
    } catch (e) {
      console.log(log.join('\n'));
      throw e;
    } finally {
      await page.close();
    }
  });
});
