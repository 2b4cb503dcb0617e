/**
 * Where each model's official weights are published, in a form a downloader can use (core: no Node
 * built-ins). Three kinds of host occur in the zoo:
 * - a direct file (CVNets' MobileViT v1/v2 `.pt` files);
 * - a GitHub release (MobileViTv3): the registry records the release page; the assets are the model
 *   folders of the MobileViTv3 README ("checkpoint_ema_best.pt files inside the model folder"),
 *   fetched as `<folder>.zip` from the release's download path, and the checkpoint is read out of it;
 * - Google Drive (Mobile-Former), which answers scripts with an HTML confirmation page, so the file
 *   has to be downloaded by hand in a browser.
 */
import type { ModelSpec } from '../models/types.js';

export type WeightSource =
  | {
      kind: 'download';
      url: string;
      /** The file as published (the name it gets in the cache). */
      asset: string;
      /** The checkpoint inside a zip asset, as a path suffix (e.g. 'checkpoint_ema_best.pt'). */
      member?: string;
      /** The checkpoint's file name once extracted (or the asset itself). */
      fileName: string;
      /** sha256 of the published asset, where one is recorded. */
      sha256?: string;
      /** Where the official page lists the file (for error messages). */
      page: string;
    }
  | { kind: 'manual'; page: string; fileName: string; why: string };

/**
 * sha256 of published assets, by model. None of the official hosts publishes digests, and none is
 * recorded here yet: a download is still checked key by key and shape by shape against the model,
 * and the digest of what was downloaded is kept beside the cache entry.
 */
export const RECORDED_SHA256: Record<string, string> = {};

const GH_RELEASE_PAGE = /^https:\/\/github\.com\/([^/]+\/[^/]+)\/releases\/tag\/([^/]+)$/;

/** The source of a model's official weights; `baseUrl` replaces the host for mirrors and tests. */
export function weightSource(spec: ModelSpec, opts: { baseUrl?: string } = {}): WeightSource | null {
  const { url, fileName } = spec.cfg;
  if (!url || !fileName) return null;
  const sha256 = RECORDED_SHA256[spec.name];
  const mirror = (asset: string, real: string) => (opts.baseUrl ? `${opts.baseUrl.replace(/\/+$/, '')}/${spec.name}/${asset}` : real);
  if (url.startsWith('https://drive.google.com/')) {
    return { kind: 'manual', page: url, fileName, why: 'Google Drive serves files to browsers only (it answers scripts with a confirmation page)' };
  }
  const rel = GH_RELEASE_PAGE.exec(url);
  if (rel) {
    // fileName is '<release folder>/checkpoint_ema_best.pt'.
    const [folder, member] = fileName.split('/');
    const asset = `${folder}.zip`;
    return { kind: 'download', url: mirror(asset, `https://github.com/${rel[1]}/releases/download/${rel[2]}/${asset}`), asset, member, fileName: `${folder}.pt`, sha256, page: url };
  }
  const asset = url.slice(url.lastIndexOf('/') + 1);
  return { kind: 'download', url: mirror(asset, url), asset, fileName: asset, sha256, page: url };
}
