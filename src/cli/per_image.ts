/**
 * The per-image loop of `segment` and `detect`: each image is decoded and handled in turn; an
 * unreadable one is reported on its own line (or as {image, error} with --json) and the rest go on.
 * With --json the collected results are printed at the end; any failure sets exit code 1.
 */
import { relative } from 'node:path';
import { decodeImageFile } from '../data/decode_node.js';
import type { RgbImage } from '../data/image.js';
import { HybridVisionError } from '../tensor.js';

/** A path as the user sees it: relative to the working folder. */
export const shownPath = (p: string): string => relative(process.cwd(), p) || p;

/** Runs `handle` on each decodable image; it returns the image's JSON result (printed at the end with `json`). */
export async function forEachImage(images: string[], json: boolean | undefined, handle: (image: string, rgb: RgbImage) => Promise<unknown>): Promise<void> {
  const results: unknown[] = [];
  let failed = 0;
  for (const image of images) {
    let rgb: RgbImage;
    try {
      rgb = await decodeImageFile(image);
    } catch (e) {
      if (!(e instanceof HybridVisionError)) throw e;
      failed++;
      results.push({ image, error: e.message });
      if (!json) console.error(`hybridvision: error: ${e.message.split('\n')[0]}`);
      continue;
    }
    results.push(await handle(image, rgb));
  }
  if (json) console.log(JSON.stringify(results, null, 2));
  if (failed > 0) {
    console.error(`hybridvision: ${failed} of ${images.length} image${images.length === 1 ? '' : 's'} could not be read`);
    process.exitCode = 1;
  }
}
