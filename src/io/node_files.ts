/** Node-only file helpers for the io layer (the rest of src/io is browser-safe). */
import { closeSync, fsyncSync, openSync, readFileSync } from 'node:fs';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { HybridVisionError, type HostTensor } from '../tensor.js';
import { readSafetensors, type SafetensorsFile } from './safetensors.js';
import { cleanText } from './text.js';
import { readCheckpoint, type TorchLoadOptions } from './torch.js';

function describeFsError(e: unknown, verb: string, path: string): HybridVisionError {
  const code = (e as NodeJS.ErrnoException)?.code;
  switch (code) {
    case 'ENOENT':
      return new HybridVisionError(verb === 'read' ? `file not found: ${path}` : `cannot ${verb} ${path}: the directory does not exist`);
    case 'EISDIR':
      return new HybridVisionError(`cannot ${verb} ${path}: it is a directory`);
    case 'ENOTDIR':
      return new HybridVisionError(`cannot ${verb} ${path}: a parent of it is not a directory`);
    case 'EACCES':
    case 'EPERM':
      return new HybridVisionError(`cannot ${verb} ${path}: permission denied`);
    case 'ERR_FS_FILE_TOO_LARGE':
      return new HybridVisionError(`cannot ${verb} ${path}: the file is too large to load into memory`);
    case 'ENOSPC':
      return new HybridVisionError(`cannot ${verb} ${path}: no space left on the device`);
    case 'EROFS':
      return new HybridVisionError(`cannot ${verb} ${path}: read-only file system`);
    default: {
      const msg = String((e as Error)?.message ?? e).split('\n')[0];
      return new HybridVisionError(`cannot ${verb} ${path}: ${msg}`);
    }
  }
}

function asPlainBytes(buf: Buffer): Uint8Array {
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** Reads a whole file; one-line HybridVisionError for missing or unreadable files. */
export async function readFileBytes(path: string): Promise<Uint8Array> {
  try {
    return asPlainBytes(await readFile(path));
  } catch (e) {
    throw describeFsError(e, 'read', path);
  }
}

/** Synchronous variant of readFileBytes. */
export function readFileBytesSync(path: string): Uint8Array {
  try {
    return asPlainBytes(readFileSync(path));
  } catch (e) {
    throw describeFsError(e, 'read', path);
  }
}

let tmpCounter = 0;

/**
 * Writes a file atomically: a temporary file in the same directory is written, fsynced and renamed
 * over the target, so the target is either the old file or the complete new one.
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${Date.now().toString(36)}.${(tmpCounter++).toString(36)}.tmp`);
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(tmp, 'wx', 0o644);
    let off = 0;
    while (off < bytes.length) {
      const { bytesWritten } = await handle.write(bytes, off, bytes.length - off);
      off += bytesWritten;
    }
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(tmp, path);
  } catch (e) {
    if (handle) await handle.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw describeFsError(e, 'write', path);
  }
  // Make the rename durable (best effort: not every platform can fsync a directory).
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    /* ignore */
  }
}

/**
 * Runs `read` on a file's contents and makes every failure one HybridVisionError that starts with
 * the file's name. A JavaScript error escaping a reader is a bug, but the user still gets a line
 * that names the file rather than a stack trace.
 */
export async function withFileName<T>(path: string, read: () => T | Promise<T>): Promise<T> {
  const name = cleanText(basename(path));
  try {
    return await read();
  } catch (e) {
    if (e instanceof HybridVisionError) throw e.message.includes(name) ? e : new HybridVisionError(`${name}: ${e.message}`);
    if (e instanceof RangeError && /call stack/i.test(e.message)) throw new HybridVisionError(`${name}: the file nests values too deeply to read`);
    const msg = cleanText(String((e as Error)?.message ?? e).split('\n')[0]!, 200);
    throw new HybridVisionError(`${name}: cannot read it (${msg})`);
  }
}

/** Reads a checkpoint file (safetensors, torch.save zip or legacy) and returns its state_dict. */
export async function loadCheckpointFile(path: string, opts: TorchLoadOptions = {}): Promise<Map<string, HostTensor>> {
  const bytes = await readFileBytes(path);
  return withFileName(path, () => readCheckpoint(bytes, basename(path), opts));
}

/** Reads a safetensors file; errors name the file (e.g. 'photo.jpg: not a safetensors file (a JPEG image)'). */
export async function readSafetensorsFile(path: string): Promise<SafetensorsFile> {
  const bytes = await readFileBytes(path);
  return withFileName(path, () => readSafetensors(bytes));
}
