import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { goldenOrSkip } from './helpers/golden.js';
import { buildZip, crc32 as refCrc32 } from './helpers/pickle_writer.js';
import { crc32, openZip } from '../src/io/zip.js';
import { HybridVisionError } from '../src/tensor.js';

const golden = goldenOrSkip();
const enc = new TextEncoder();

function pseudoRandom(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

function isHVE(pattern: RegExp) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof HybridVisionError, `expected HybridVisionError, got ${String(e)}`);
    assert.match(e.message, pattern);
    assert.ok(!e.message.includes('\n'));
    return true;
  };
}

test('crc32 matches the reference implementation', () => {
  assert.equal(crc32(enc.encode('123456789')), 0xcbf43926);
  for (const n of [0, 1, 3, 4, 5, 1000, 4097]) {
    const b = pseudoRandom(n, n + 7);
    assert.equal(crc32(b), refCrc32(b), `n=${n}`);
  }
});

test('golden .pt is a readable zip (ZIP64 end records, data descriptors)', { skip: golden.skip }, async () => {
  const zip = openZip(new Uint8Array(readFileSync(join(golden.dir, 'pt', 'mobilevitv3_xxs_nc10_pt.pt'))));
  const names = zip.names();
  assert.equal(names[0], 'mobilevitv3_xxs_nc10_pt/data.pkl');
  assert.ok(names.includes('mobilevitv3_xxs_nc10_pt/version'));
  assert.equal(names.filter((n) => n.startsWith('mobilevitv3_xxs_nc10_pt/data/')).length, 311);
  assert.equal(new TextDecoder().decode(await zip.read('mobilevitv3_xxs_nc10_pt/version')), '3\n');
  const pkl = zip.readSync('mobilevitv3_xxs_nc10_pt/data.pkl');
  assert.deepEqual([...pkl.subarray(0, 2)], [0x80, 0x02]);
  assert.equal(pkl[pkl.length - 1], 0x2e);
  assert.equal((await zip.read('mobilevitv3_xxs_nc10_pt/data/0')).length, 16 * 3 * 3 * 3 * 4);
});

for (const zip64 of [false, true]) {
  test(`stored and deflated entries${zip64 ? ' (ZIP64)' : ''}`, async () => {
    const big = pseudoRandom(100_000);
    const text = enc.encode('hello '.repeat(5000));
    const bytes = buildZip(
      [
        { name: 'a/stored.bin', data: big },
        { name: 'a/deflated.txt', data: text, deflate: true },
        { name: 'a/empty', data: new Uint8Array(0) },
        { name: 'a/ünï.txt', data: enc.encode('x'), deflate: true },
      ],
      { zip64, dataDescriptor: zip64 },
    );
    const zip = openZip(bytes);
    assert.deepEqual(zip.names(), ['a/stored.bin', 'a/deflated.txt', 'a/empty', 'a/ünï.txt']);
    assert.deepEqual(await zip.read('a/stored.bin'), big);
    assert.deepEqual(zip.readSync('a/stored.bin'), big);
    assert.equal(zip.entry('a/deflated.txt')!.method, 8);
    assert.ok(zip.entry('a/deflated.txt')!.compressedSize < text.length / 10);
    assert.deepEqual(await zip.read('a/deflated.txt'), text);
    assert.equal((await zip.read('a/empty')).length, 0);
    assert.equal(new TextDecoder().decode(await zip.read('a/ünï.txt')), 'x');
    assert.throws(() => zip.readSync('a/deflated.txt'), isHVE(/compressed \(method 8\); read it asynchronously/));
    await assert.rejects(zip.read('nope'), isHVE(/no entry 'nope'/));
  });
}

test('corrupt and truncated archives are rejected', async () => {
  const data = pseudoRandom(5000, 3);
  const text = enc.encode('abc'.repeat(3000));
  const bytes = buildZip([
    { name: 's', data },
    { name: 'd', data: text, deflate: true },
  ]);
  assert.throws(() => openZip(new Uint8Array(10)), isHVE(/corrupt or truncated zip archive: 10 bytes is too short/));
  assert.throws(() => openZip(new Uint8Array(100)), isHVE(/no end-of-central-directory record found/));
  // cut off the end: EOCD gone
  assert.throws(() => openZip(bytes.subarray(0, bytes.length - 30)), isHVE(/corrupt or truncated zip archive/));
  // drop the middle (data lost) but keep a tail that points past the end
  const cut = new Uint8Array(bytes.length - 3000);
  cut.set(bytes.subarray(0, 1000));
  cut.set(bytes.subarray(4000), 1000);
  assert.throws(() => openZip(cut), isHVE(/corrupt or truncated zip archive/));
  // flip a stored data byte: CRC mismatch
  const flipped = bytes.slice();
  flipped[100] ^= 0xff;
  await assert.rejects(openZip(flipped).read('s'), isHVE(/CRC-32 mismatch in 's'/));
  // garbage deflate stream
  const zip = openZip(bytes);
  const e = zip.entry('d')!;
  const bad = bytes.slice();
  const start = e.localHeaderOffset + 30 + 1;
  bad.fill(0xff, start, start + 20);
  await assert.rejects(openZip(bad).read('d'), isHVE(/corrupt or truncated zip archive: (cannot inflate 'd'|'d' decompressed|CRC-32)/));
});
