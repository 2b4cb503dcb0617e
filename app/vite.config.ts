/**
 * The app as a static site: `vite build --config app/vite.config.ts` writes app/dist/ (relative
 * URLs, so it runs from any folder). The build also copies what the page fetches at run time:
 * onnxruntime-web's runtime files to ort/, the shipped sample images to samples/ and sample scenes
 * to samples/scenes/ (each with an index.json) and the shipped default classifier, detector and
 * segmenter to models/ (under content-hashed names given by models/default.json).
 */
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';
import { DEFAULT_KINDS, defaultModelFile } from '../src/cli/assets.js';

const appDir = dirname(fileURLToPath(import.meta.url));
const repo = resolve(appDir, '..');
const ORT_FILES = ['ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.wasm', 'ort-wasm-simd-threaded.asyncify.mjs', 'ort-wasm-simd-threaded.asyncify.wasm'];

function runtimeFiles(): Plugin {
  let outDir = '';
  return {
    name: 'hybridvision-runtime-files',
    apply: 'build',
    // The page loads ORT's runtime from ort/ (wasmPaths), so the copies Vite emits for the
    // `new URL('….wasm', import.meta.url)` references inside ORT's bundle are never fetched: drop them.
    generateBundle(_, bundle) {
      for (const k of Object.keys(bundle)) if (/ort-wasm-simd-threaded.*\.wasm$/.test(k)) delete bundle[k];
    },
    configResolved(c) {
      outDir = resolve(c.root, c.build.outDir);
    },
    closeBundle() {
      const ortSrc = join(repo, 'node_modules', 'onnxruntime-web', 'dist');
      mkdirSync(join(outDir, 'ort'), { recursive: true });
      for (const f of ORT_FILES) copyFileSync(join(ortSrc, f), join(outDir, 'ort', f));
      // sample images (classification) and sample scenes (detection, segmentation), each with an index.json
      for (const sub of ['samples', 'samples/scenes']) {
        const from = join(repo, 'assets', sub);
        mkdirSync(join(outDir, sub), { recursive: true });
        const list = existsSync(from) ? readdirSync(from).filter((f) => /\.(png|jpe?g|webp)$/i.test(f)).sort() : [];
        for (const f of list) copyFileSync(join(from, f), join(outDir, sub, f));
        writeFileSync(join(outDir, sub, 'index.json'), JSON.stringify(list));
      }
      // The shipped defaults under names holding their hashes, named by models/default.json
      // ({ file: classifier, detector, segmenter }): the page caches weights by URL forever (Cache
      // API), so a new default must get a new URL.
      mkdirSync(join(outDir, 'models'), { recursive: true });
      const index: Record<string, string> = {};
      for (const kind of DEFAULT_KINDS) {
        const model = defaultModelFile(kind);
        if (!existsSync(model)) continue;
        const bytes = readFileSync(model);
        const key = kind === 'classifier' ? 'file' : kind; // app/shipped.ts ShippedModel
        index[key] = `${key === 'file' ? 'default' : kind}-${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}.safetensors`;
        writeFileSync(join(outDir, 'models', index[key]), bytes);
      }
      if (index.file) writeFileSync(join(outDir, 'models', 'default.json'), JSON.stringify(index));
    },
  };
}

export default defineConfig({
  root: appDir,
  base: './',
  publicDir: join(appDir, 'public'),
  logLevel: 'warn',
  build: {
    outDir: process.env.HYBRIDVISION_APP_OUT ?? join(appDir, 'dist'),
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 4096,
    reportCompressedSize: false,
    assetsInlineLimit: 0,
  },
  worker: { format: 'es' },
  server: { headers: { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' } },
  preview: { headers: { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' } },
  plugins: [runtimeFiles()],
});
