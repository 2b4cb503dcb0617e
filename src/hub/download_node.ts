/**
 * Node: resumable, atomic downloads. Bytes go to `<dest>.part`; a later call resumes it with an HTTP
 * Range request; only a complete file (length as announced, sha256 as expected where one is given) is
 * renamed to `dest`, and its digest is written beside it as `<dest>.sha256`.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, rename, stat, unlink } from 'node:fs/promises';
import { basename } from 'node:path';
import { writeFileAtomic } from '../io/node_files.js';
import { HybridVisionError } from '../tensor.js';

export interface DownloadOptions {
  expectedSha256?: string;
  /** Bytes so far and in all (0 when unknown). */
  onProgress?: (loaded: number, total: number) => void;
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

function networkError(url: string, e: unknown): HybridVisionError {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  const why = cause?.code ?? cause?.message ?? (e as Error).message;
  return new HybridVisionError(`cannot download ${url}: ${why} (no network? HYBRIDVISION_OFFLINE=1 uses the cache only)`);
}

/** Downloads `url` to `dest` (see the module comment); returns the sha256 of the file. */
export async function download(url: string, dest: string, opts: DownloadOptions = {}): Promise<string> {
  const part = `${dest}.part`;
  let have = await sizeOf(part);
  let res: Response;
  try {
    res = await fetch(url, { headers: have > 0 ? { range: `bytes=${have}-` } : {}, redirect: 'follow' });
  } catch (e) {
    throw networkError(url, e);
  }
  if (res.status === 416) {
    // The partial file is not a prefix the server recognises: start over.
    await res.body?.cancel();
    await unlink(part).catch(() => undefined);
    return download(url, dest, opts);
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new HybridVisionError(`cannot download ${url}: HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`);
  }
  if (res.status === 206) {
    // Resume only where the server says it resumes ("bytes START-END/TOTAL").
    const m = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(res.headers.get('content-range') ?? '');
    if (!m || Number(m[1]) !== have) {
      await res.body?.cancel();
      await unlink(part).catch(() => undefined);
      return download(url, dest, opts);
    }
  } else have = 0; // the server sent the whole file
  const length = Number(res.headers.get('content-length') ?? NaN);
  const total = Number.isFinite(length) ? have + length : 0;
  const file = await open(part, have > 0 ? 'a' : 'w');
  let loaded = have;
  try {
    if (res.body) {
      const reader = res.body.getReader();
      for (;;) {
        let chunk;
        try {
          chunk = await reader.read();
        } catch (e) {
          throw new HybridVisionError(`download of ${url} broke off after ${loaded} of ${total || '?'} bytes (${(e as Error).message}); run again to resume`);
        }
        if (chunk.done) break;
        await file.write(chunk.value);
        loaded += chunk.value.length;
        opts.onProgress?.(loaded, total);
      }
    }
    await file.sync();
  } finally {
    await file.close();
  }
  if (total && loaded !== total) {
    throw new HybridVisionError(`download of ${url} was cut short: ${loaded} of ${total} bytes; run again to resume`);
  }
  const digest = await sha256File(part);
  if (opts.expectedSha256 && digest !== opts.expectedSha256.toLowerCase()) {
    await unlink(part).catch(() => undefined);
    throw new HybridVisionError(`checksum mismatch for ${url}: sha256 ${digest}, expected ${opts.expectedSha256} (the partial file was removed)`);
  }
  await rename(part, dest);
  await writeFileAtomic(`${dest}.sha256`, new TextEncoder().encode(`${digest}  ${basename(dest)}\n`));
  return digest;
}
