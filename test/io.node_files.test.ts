import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { goldenOrSkip } from './helpers/golden.js';
import { loadCheckpointFile, readFileBytes, readFileBytesSync, writeFileAtomic } from '../src/io/node_files.js';
import { writeSafetensors } from '../src/io/safetensors.js';
import { HybridVisionError } from '../src/tensor.js';

const golden = goldenOrSkip();

function hve(pattern: RegExp) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof HybridVisionError, `expected HybridVisionError, got ${String(e)}`);
    assert.match(e.message, pattern);
    assert.ok(!e.message.includes('\n'));
    return true;
  };
}

test('readFileBytes: contents, missing file, directory', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hv-io-'));
  try {
    const p = join(dir, 'a.bin');
    writeFileSync(p, Uint8Array.from([1, 2, 3]));
    const b = await readFileBytes(p);
    assert.equal(Object.getPrototypeOf(b), Uint8Array.prototype, 'a plain Uint8Array, not a Buffer');
    assert.deepEqual([...b], [1, 2, 3]);
    assert.deepEqual([...readFileBytesSync(p)], [1, 2, 3]);
    await assert.rejects(readFileBytes(join(dir, 'nope.pt')), hve(/^file not found: .*nope\.pt$/));
    assert.throws(() => readFileBytesSync(join(dir, 'nope.pt')), hve(/^file not found: /));
    await assert.rejects(readFileBytes(dir), hve(/it is a directory/));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('writeFileAtomic writes, replaces and leaves no temp files; failures leave nothing behind', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hv-io-'));
  try {
    const p = join(dir, 'model.safetensors');
    await writeFileAtomic(p, Uint8Array.from([1, 2]));
    assert.deepEqual([...readFileSync(p)], [1, 2]);
    const big = new Uint8Array(3_000_000).fill(7);
    await writeFileAtomic(p, big);
    assert.equal(readFileSync(p).length, big.length);
    assert.deepEqual(readdirSync(dir), ['model.safetensors']);
    await assert.rejects(writeFileAtomic(join(dir, 'missing', 'x.bin'), Uint8Array.from([1])), hve(/^cannot write .*x\.bin: the directory does not exist$/));
    await assert.rejects(writeFileAtomic(dir, Uint8Array.from([1])), hve(/^cannot write /));
    assert.deepEqual(readdirSync(dir), ['model.safetensors']);
    assert.equal(readFileSync(p).length, big.length, 'target untouched by the failed writes');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('loadCheckpointFile: safetensors and golden .pt; errors name the file', { skip: golden.skip }, async () => {
  const pt = await loadCheckpointFile(join(golden.dir, 'pt', 'mobilevitv3_xxs_nc10_pt.pt'));
  assert.equal(pt.size, 311);
  assert.deepEqual(pt.get('classifier.fc.weight')!.shape, [10, 512]);
  const st = await loadCheckpointFile(join(golden.dir, 'mobilevitv3_xs_nc10_128.weights.safetensors'));
  assert.equal(st.size, 311);
  const dir = mkdtempSync(join(tmpdir(), 'hv-io-'));
  try {
    const junk = join(dir, 'junk.pth');
    writeFileSync(junk, 'not a checkpoint');
    await assert.rejects(loadCheckpointFile(junk), hve(/^unrecognised checkpoint format of junk\.pth/));
    const bad = join(dir, 'bad.safetensors');
    writeFileSync(bad, writeSafetensors({ a: { dtype: 'float32', shape: [1], data: Float32Array.from([1]) } }).subarray(0, 20));
    await assert.rejects(loadCheckpointFile(bad), hve(/^bad\.safetensors: not a safetensors file .*header length of 56, more than the file.s 20 bytes/));
    await assert.rejects(loadCheckpointFile(join(dir, 'none.pt')), hve(/^file not found: /));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
