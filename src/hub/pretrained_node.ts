/**
 * Node: official pretrained weights by model name. The cache holds, per model, the published file,
 * its sha256 (`<file>.sha256`) and the converted hybridvision file (`model.safetensors`, official
 * keys plus preprocessing metadata), which later loads read directly.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { readFileBytes, writeFileAtomic } from '../io/node_files.js';
import { openZip } from '../io/zip.js';
import { readCheckpoint } from '../io/torch.js';
import type { CreateOptions, HybridModel } from '../models/model.js';
import { modelFromBytes, modelToSafetensors } from '../models/model_file.js';
import { createModel, getModelSpec } from '../models/registry.js';
import { HybridVisionError } from '../tensor.js';
import { defaultCacheDir, offlineFromEnv } from './cache_node.js';
import { download, sha256File } from './download_node.js';
import type { PretrainedOptions } from './hooks.js';
import { weightSource } from './sources.js';

/** The cache folder of one model. */
export function pretrainedDir(name: string, opts: PretrainedOptions = {}): string {
  return join(opts.cacheDir ?? defaultCacheDir(), name);
}

/** Loads (fetching, checking, converting and caching on first use) the official weights of `name`. */
export async function loadPretrained(name: string, opts: CreateOptions = {}): Promise<HybridModel> {
  const spec = getModelSpec(name);
  const dir = pretrainedDir(name, opts);
  const converted = join(dir, 'model.safetensors');
  const make = { threads: opts.threads, labels: opts.labels, cfg: opts.cfg };
  const finish = (m: HybridModel) => {
    opts.progress?.({ status: 'ready', name, file: converted });
    if (opts.numClasses !== undefined && opts.numClasses !== m.numClasses) m.resetClassifier(opts.numClasses, opts.seed ?? 0, opts.labels);
    return m;
  };
  if (existsSync(converted)) return finish(await modelFromBytes(await readFileBytes(converted), name, { ...make, fileLabel: converted }));

  const src = weightSource(spec, { baseUrl: opts.baseUrl ?? process.env.HYBRIDVISION_BASE_URL });
  if (!src) throw new HybridVisionError(`${name} has no published pretrained weights; train it (hybridvision train) or pass weights`);
  const original = join(dir, src.fileName);
  if (!existsSync(original)) {
    if (src.kind === 'manual') {
      throw new HybridVisionError(`${name}: ${src.why}; download ${src.fileName} by hand from ${src.page} and save it as ${original}, then run again`);
    }
    if (opts.offline ?? offlineFromEnv()) {
      throw new HybridVisionError(`${name}: offline (HYBRIDVISION_OFFLINE) and its weights are not in the cache (${dir}); fetch them once online, or save ${src.fileName} from ${src.page} there`);
    }
    await mkdir(dir, { recursive: true });
    const asset = join(dir, src.asset);
    if (!existsSync(asset)) {
      opts.progress?.({ status: 'initiate', name, file: src.asset });
      try {
        await download(src.url, asset, {
          expectedSha256: opts.sha256 ?? src.sha256,
          onProgress: (loaded, total) => opts.progress?.({ status: 'progress', name, file: src.asset, loaded, total, progress: total ? (100 * loaded) / total : undefined }),
        });
      } catch (e) {
        if (e instanceof HybridVisionError && src.member && /HTTP 404/.test(e.message)) {
          throw new HybridVisionError(`${name}: ${src.url} was not found (HTTP 404); the release page ${src.page} lists the model folders: save the ${src.member} of the folder ${src.asset.replace(/\.zip$/, '')} as ${original}, then run again`);
        }
        throw e;
      }
      opts.progress?.({ status: 'done', name, file: src.asset });
    }
    if (src.member) await extractMember(asset, src.member, original);
  }
  const bytes = await readFileBytes(original);
  let model: HybridModel;
  try {
    // createModel checks every key and shape against the architecture.
    model = createModel(name, { ...make, weights: await readCheckpoint(bytes, src.fileName) });
  } catch (e) {
    throw new HybridVisionError(`${original}: ${(e as Error).message.split('\n')[0]} (delete it to fetch it again)`);
  }
  const digest = existsSync(join(dir, `${src.kind === 'download' ? src.asset : src.fileName}.sha256`))
    ? (await readFileBytes(join(dir, `${src.kind === 'download' ? src.asset : src.fileName}.sha256`)).then((b) => new TextDecoder().decode(b).split(/\s/)[0]))
    : await sha256File(original);
  await writeFileAtomic(converted, modelToSafetensors(model, { extra: { source: src.kind === 'download' ? src.url : src.page, source_sha256: digest } }));
  return finish(model);
}

/** Writes the zip entry whose path ends with `member` (a model folder's checkpoint) to `dest`. */
async function extractMember(zipPath: string, member: string, dest: string): Promise<void> {
  const bytes = await readFileBytes(zipPath);
  // A torch.save file is a zip too: an asset that is already the checkpoint is used as it is.
  const zip = openZip(bytes);
  const names = zip.names();
  const hit = names.find((n) => n === member || n.endsWith(`/${member}`));
  if (!hit) {
    if (names.some((n) => n.endsWith('/data.pkl'))) return writeFileAtomic(dest, bytes);
    throw new HybridVisionError(`${zipPath} holds no ${member} (entries: ${names.slice(0, 5).join(', ')}${names.length > 5 ? ', …' : ''})`);
  }
  await writeFileAtomic(dest, await zip.read(hit));
}
