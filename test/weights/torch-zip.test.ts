import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { CnextError } from '../../src/core/errors.ts';
import { openWeightFile } from '../../src/weights/open.ts';
import { syntheticChunks, syntheticValues, writeSyntheticTorchZip } from '../../src/weights/synthetic.ts';
import { TorchZipReader, bufferSource, readTorchZip, readTorchZipFrom } from '../../src/weights/torch-zip.ts';
import { pickleStateDict, writeTorchZip, type TorchStorageToWrite } from '../../src/weights/torch-zip-writer.ts';
import type { WeightEntry } from '../../src/weights/weight-source.ts';
import { decode, logicalValues, range, strided } from './helpers.ts';
import * as hostile from './hostile.ts';

const FIXTURES = path.join(import.meta.dirname, 'fixtures');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnext-torchzip-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function errorOf(f: () => unknown): CnextError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(CnextError);
    return e as CnextError;
  }
  throw new Error('expected a CnextError');
}

const byName = (entries: WeightEntry[]) => new Map(entries.map((e) => [e.name, e]));

describe('torch zip: a file written by torch 1.13 torch.save', () => {
  const file = path.join(FIXTURES, 'torch113.bin');
  const { entries, prefix } = readTorchZip(file);
  const e = byName(entries);

  it('lists every tensor in state-dict order with dtype and shape', () => {
    expect(prefix).toBe('torch113'); // torch < 2 names the folder after the file's stem
    expect(entries.map((x) => [x.name, x.dtype, x.shape])).toEqual([
      ['lin.weight', 'F32', [2, 3]], ['lin.bias', 'F32', [2]], ['half', 'F16', [2, 2]], ['bf16', 'BF16', [4]],
      ['long', 'I64', [5]], ['base', 'F32', [20]], ['view', 'F32', [2, 3]], ['t', 'F32', [4, 3]],
      ['perm', 'F32', [4, 2, 3]], ['param', 'F32', [2]],
    ]);
    expect(entries.every((x) => x.file === fs.realpathSync(file))).toBe(true);
  });

  it('points at 64-byte-aligned storages and reads the exact values', () => {
    for (const n of ['lin.weight', 'lin.bias', 'half', 'bf16', 'long', 'base', 't', 'perm', 'param']) {
      expect(e.get(n)!.offset % 64, n).toBe(0);
    }
    expect(logicalValues(e.get('lin.weight')!)).toEqual(range(6));
    expect(logicalValues(e.get('lin.bias')!)).toEqual([0.5, -1.5]);
    expect(logicalValues(e.get('half')!)).toEqual([0, 0.25, 0.5, 0.75]);
    expect(logicalValues(e.get('bf16')!)).toEqual([-2, -1, 0, 1]);
    expect(logicalValues(e.get('long')!)).toEqual(range(5));
    expect(logicalValues(e.get('param')!)).toEqual([1, 1]);
    expect(e.get('lin.weight')!.length).toBe(24);
  });

  it('resolves a view sharing a storage through storage_offset', () => {
    const base = e.get('base')!;
    const view = e.get('view')!;
    expect(view.offset).toBe(base.offset + 10 * 4);
    expect(view.length).toBe(6 * 4);
    expect(logicalValues(view)).toEqual(range(6, (i) => 10 + i));
  });

  it('expresses transposed and permuted tensors as a stored shape plus a permutation', () => {
    // t = arange(12).view(3, 4).t(): strides (1, 4)
    expect(e.get('t')!.layout).toEqual({ storedShape: [3, 4], perm: [1, 0] });
    expect(logicalValues(e.get('t')!)).toEqual(strided(range(12), 0, [4, 3], [1, 4]));
    // perm = arange(24).view(2, 3, 4).permute(2, 0, 1): strides (1, 12, 4)
    expect(e.get('perm')!.layout).toEqual({ storedShape: [2, 3, 4], perm: [2, 0, 1] });
    expect(logicalValues(e.get('perm')!)).toEqual(strided(range(24), 0, [4, 2, 3], [1, 12, 4]));
  });

  it('reads a training checkpoint: nested dicts give dotted names, other values are skipped', () => {
    const ck = readTorchZip(path.join(FIXTURES, 'checkpoint.pt'));
    expect(ck.prefix).toBe('checkpoint');
    expect(ck.entries.map((x) => x.name)).toEqual(['state_dict.w']);
    expect(logicalValues(ck.entries[0])).toEqual([0, 1, 2]);
    expect(openWeightFile(path.join(FIXTURES, 'checkpoint.pt')).scoped('state_dict').names()).toEqual(['w']);
  });
});

describe('torch zip: our writer', () => {
  it('pickles a state dict byte for byte like torch 1.13 torch.save', () => {
    const file = path.join(FIXTURES, 'writer-reference.bin');
    const zip = new TorchZipReader(bufferSource(fs.readFileSync(file)), file);
    const torchPkl = zip.readSmall(zip.entries.get('writer-reference/data.pkl')!, 1 << 20);
    const none = () => [];
    const storages = new Map<string, TorchStorageToWrite>([
      ['0', { key: '0', dtype: 'F32', numel: 12, chunks: none }],
      ['1', { key: '1', dtype: 'F16', numel: 3, chunks: none }],
      ['2', { key: '2', dtype: 'BF16', numel: 300, chunks: none }],
      ['3', { key: '3', dtype: 'U8', numel: 70000, chunks: none }],
    ]);
    const ours = pickleStateDict([
      { name: 'proj.weight', storage: '0', storageOffset: 0, shape: [3, 4], stride: [1, 3] },
      { name: 'proj.bias', storage: '1', storageOffset: 0, shape: [3], stride: [1] },
      { name: 'norm.weight', storage: '2', storageOffset: 0, shape: [300], stride: [1] },
      { name: 'ids', storage: '3', storageOffset: 0, shape: [1, 70000], stride: [70000, 1] },
      { name: 'ids_tail', storage: '3', storageOffset: 69990, shape: [10], stride: [1] },
    ], storages);
    expect(Buffer.from(ours).equals(Buffer.from(torchPkl))).toBe(true);
    // and the reader agrees with torch's file
    const e = byName(readTorchZip(file).entries);
    expect(e.get('ids_tail')!.offset).toBe(e.get('ids')!.offset + 69990);
    expect(e.get('proj.weight')!.layout).toEqual({ storedShape: [4, 3], perm: [1, 0] });
  });
});

describe('torch zip: our writer round-trips through our reader', () => {
  const spec = [
    { name: 'proj.weight', shape: [5, 3] },
    { name: 'proj.bias', shape: [5], dtype: 'F16' as const },
    { name: 'norm.weight', shape: [7], dtype: 'BF16' as const },
    { name: 'conv.weight', shape: [4, 3, 2, 2] },
    { name: 'ids', shape: [1, 6], dtype: 'I64' as const },
  ];

  it('plain, transposed and view tensors keep their values', () => {
    const file = path.join(dir, 'rt.bin');
    writeSyntheticTorchZip(file, spec, {
      seed: 7,
      transposed: { 'proj.weight': [1, 0], 'conv.weight': [0, 2, 3, 1] },
      views: [{ name: 'ids_tail', of: 'ids', offset: 2, shape: [2, 2] }, { name: 'conv_slice', of: 'proj.bias', offset: 1, shape: [3] }],
    });
    const { entries, prefix } = readTorchZip(file);
    expect(prefix).toBe('archive');
    const e = byName(entries);
    expect(entries.map((x) => x.name)).toEqual([...spec.map((s) => s.name), 'ids_tail', 'conv_slice']);
    for (const x of entries) expect(x.dtype).toBe(spec.find((s) => s.name === x.name)?.dtype ?? (x.name === 'ids_tail' ? 'I64' : x.name === 'conv_slice' ? 'F16' : 'F32'));
    // Untransposed tensors hold exactly the synthetic values (rounded to their dtype).
    for (const s of [spec[1], spec[2], spec[4]]) expect(logicalValues(e.get(s.name)!)).toEqual([...syntheticValues(s, 7)]);
    // proj.weight: the storage holds a [3, 5] tensor; the state dict sees its transpose, strides (1, 5).
    expect(e.get('proj.weight')!.layout).toEqual({ storedShape: [3, 5], perm: [1, 0] });
    // (the storage is generated with the logical tensor's init: fan_in 3, not 5)
    const storage = [...syntheticValues({ ...spec[0], shape: [3, 5], std: 1 / Math.sqrt(3) }, 7)];
    expect(logicalValues(e.get('proj.weight')!)).toEqual(strided(storage, 0, [5, 3], [1, 5]));
    // conv.weight [4,3,2,2], perm [0,2,3,1]: stored as [4,2,3,2] (storedShape[perm[i]] = shape[i]), strides (12, 2, 1, 6)
    expect(e.get('conv.weight')!.layout).toEqual({ storedShape: [4, 2, 3, 2], perm: [0, 2, 3, 1] });
    const convStorage = [...syntheticValues({ ...spec[3], shape: [4, 2, 3, 2], std: 1 / Math.sqrt(12) }, 7)];
    expect(logicalValues(e.get('conv.weight')!)).toEqual(strided(convStorage, 0, [4, 3, 2, 2], [12, 2, 1, 6]));
    // views share their base's storage
    expect(e.get('ids_tail')!.offset).toBe(e.get('ids')!.offset + 2 * 8);
    expect(logicalValues(e.get('ids_tail')!)).toEqual([2, 3, 4, 5]);
    expect(logicalValues(e.get('conv_slice')!)).toEqual(logicalValues(e.get('proj.bias')!).slice(1, 4));
    for (const n of ['proj.weight', 'proj.bias', 'norm.weight', 'conv.weight', 'ids']) expect(e.get(n)!.offset % 64).toBe(0);
  });

  it('zip64 fields everywhere (forceZip64) and a stem prefix read the same', () => {
    const a = path.join(dir, 'a.bin');
    const b = path.join(dir, 'b.bin');
    writeSyntheticTorchZip(a, spec, { seed: 3 });
    writeSyntheticTorchZip(b, spec, { seed: 3, forceZip64: true, prefix: 'b' });
    const bytes = fs.readFileSync(b);
    const cd = bytes.indexOf(Buffer.from('PK\x01\x02', 'latin1'));
    expect(bytes.readUInt32LE(cd + 42)).toBe(0xffffffff); // local header offset lives in the zip64 extra field
    expect(bytes.readUInt32LE(bytes.length - 22 + 16)).toBe(0xffffffff); // classic end record defers to zip64
    const ra = readTorchZip(a);
    const rb = readTorchZip(b);
    expect(rb.prefix).toBe('b');
    expect(rb.entries.map((x) => [x.name, x.dtype, x.shape, x.length])).toEqual(ra.entries.map((x) => [x.name, x.dtype, x.shape, x.length]));
    expect(rb.entries.map(logicalValues)).toEqual(ra.entries.map(logicalValues));
  });

  it('streams storages bigger than one generated piece (1 M elements) without seams', () => {
    const big = { name: 'big', shape: [1100, 1000], dtype: 'F16' as const };
    const file = path.join(dir, 'big.bin');
    writeSyntheticTorchZip(file, [big], { seed: 11 });
    const [entry] = readTorchZip(file).entries;
    expect(entry.length).toBe(1100 * 1000 * 2);
    const got = logicalValues(entry);
    const want = syntheticValues(big, 11);
    expect(got.length).toBe(want.length);
    expect(got.every((v, i) => v === want[i])).toBe(true);
  });
});

describe('torch zip: broken and unsupported files', () => {
  const good = path.join(dir, 'good.bin');
  writeSyntheticTorchZip(good, [{ name: 'w', shape: [2, 3] }, { name: 'b', shape: [2] }], { seed: 1 });
  const goodBytes = fs.readFileSync(good);
  const read = (bytes: Uint8Array) => readTorchZipFrom(bufferSource(bytes), 'f.bin');

  /** A zip with our own data.pkl and storages. */
  function custom(tensors: Parameters<typeof pickleStateDict>[0], storages: TorchStorageToWrite[], pickled = storages): string {
    const file = path.join(dir, `custom-${Math.random().toString(36).slice(2)}.bin`);
    writeTorchZip(file, storages, [], { dataPkl: pickleStateDict(tensors, new Map(pickled.map((s) => [s.key, s]))) });
    return file;
  }
  const f32 = (key: string, numel: number): TorchStorageToWrite =>
    ({ key, dtype: 'F32', numel, chunks: () => [new Uint8Array(numel * 4)] });

  it('refuses compressed (deflated) entries', () => {
    const b = Buffer.from(goodBytes);
    // set method 8 in the central directory entry of archive/data/0 and in its local header
    const name = Buffer.from('archive/data/0');
    for (let i = b.indexOf(name); i >= 0; i = b.indexOf(name, i + 1)) {
      if (b.readUInt32LE(i - 46) === 0x02014b50) b.writeUInt16LE(8, i - 46 + 10);
      if (b.readUInt32LE(i - 30) === 0x04034b50) b.writeUInt16LE(8, i - 30 + 8);
    }
    const e = errorOf(() => read(b));
    expect(e.code).toBe('WEIGHTS_UNSUPPORTED');
    expect(e.message).toBe('f.bin: entry "archive/data/0" is compressed (zip method 8); PyTorch files store entries uncompressed, so tensors can be read in place');
  });

  it('reports truncation, corruption and missing pieces in one line', () => {
    const cases: Array<[Uint8Array, string]> = [
      [goodBytes.subarray(0, goodBytes.length - 30), 'no end-of-central-directory record (not a zip, or truncated)'],
      [goodBytes.subarray(0, 10), 'file is 10 bytes, too short for a zip'],
      [Buffer.concat([Buffer.alloc(100), goodBytes.subarray(goodBytes.length - 98)]), 'zip64 end record at byte'],
    ];
    const flipped = Buffer.from(goodBytes);
    flipped[64 + 10] ^= 0x01; // inside data.pkl (which starts at byte 64)
    cases.push([flipped, 'entry "archive/data.pkl" fails its CRC check (corrupt file)']);
    for (const [bytes, msg] of cases) {
      const e = errorOf(() => read(bytes));
      expect(e.code).toBe('WEIGHTS_MALFORMED');
      expect(e.message).toContain(`f.bin is not a valid PyTorch zip file: ${msg}`);
      expect(e.message).not.toContain('\n');
    }
  });

  it('checks every tensor against its storage', () => {
    const t = (o: Partial<{ storage: string; storageOffset: number; shape: number[]; stride: number[] }>) =>
      [{ name: 'w', storage: '0', storageOffset: 0, shape: [2, 3], stride: [3, 1], ...o }];
    const cases: Array<[string, string, string]> = [
      [custom(t({}), [], [f32('0', 6)]), 'WEIGHTS_MALFORMED', 'tensor "w" points at storage "0", which has no data/"0" entry'],
      [custom(t({}), [f32('0', 5)], [f32('0', 6)]), 'WEIGHTS_MALFORMED', 'storage "0" should hold 6 × 4 bytes but its entry has 20'],
      [custom(t({ storageOffset: 1 }), [f32('0', 6)]), 'WEIGHTS_MALFORMED', 'tensor "w" (offset 1, shape [2, 3], stride [3, 1]) reaches past its storage of 6 elements'],
      [custom(t({ shape: [3, 2], stride: [0, 1] }), [f32('0', 6)]), 'WEIGHTS_UNSUPPORTED', 'tensor "w" has strides [0, 1] for shape [3, 2], which are not a permutation of contiguous strides (an expanded or sliced view)'],
      [custom(t({ shape: [2, 2], stride: [3, 1] }), [f32('0', 6)]), 'WEIGHTS_UNSUPPORTED', 'not a permutation of contiguous strides'],
      [custom(t({ shape: [2, 3], stride: [-3, 1] }), [f32('0', 6)]), 'WEIGHTS_MALFORMED', 'tensor "w" has a negative size, stride or offset'],
      [custom(t({ shape: [0, 3], storageOffset: 7 }), [f32('0', 6)]), 'WEIGHTS_MALFORMED', 'tensor "w" (offset 7, shape [0, 3], stride [3, 1]) reaches past its storage of 6 elements'],
    ];
    for (const [file, code, msg] of cases) {
      const e = errorOf(() => readTorchZip(file));
      expect(e.code).toBe(code);
      expect(e.message).toContain(msg);
    }
    // size-1 dims may carry any stride (torch gives them odd ones after unsqueeze/permute)
    const ok = readTorchZip(custom(t({ shape: [1, 6, 1], stride: [77, 1, 0] }), [f32('0', 6)])).entries[0];
    expect(ok.layout).toBeUndefined();
    expect(ok.length).toBe(24);
  });

  it('refuses big-endian files and turns I/O failures into CnextErrors', () => {
    const b = Buffer.from(goodBytes);
    const at = b.indexOf(Buffer.from('little'));
    b.write('bigend', at, 'latin1');
    const cd = b.indexOf(Buffer.from('archive/byteorder'), b.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]))) - 46;
    b.writeUInt32LE(crc32(Buffer.from('bigend')) >>> 0, cd + 16);
    const e = errorOf(() => read(b));
    expect(e.code).toBe('WEIGHTS_UNSUPPORTED');
    expect(e.message).toBe('f.bin: saved on a "bigend"-endian machine; only little-endian files are supported');
    expect(errorOf(() => readTorchZip(dir)).message).toMatch(/^Cannot read weight file .*: EISDIR/);
    expect(errorOf(() => readTorchZip(path.join(dir, 'nope.bin'))).code).toBe('WEIGHTS_UNREADABLE');
  });

  it('needs a <folder>/data.pkl holding a dict', () => {
    const nested = path.join(dir, 'nested.bin');
    writeSyntheticTorchZip(nested, [{ name: 'w', shape: [1] }], { prefix: 'a/b' });
    expect(errorOf(() => readTorchZip(nested)).message).toContain('no <folder>/data.pkl entry (a zip, but not one written by torch.save)');
    const list = path.join(dir, 'list.bin');
    writeTorchZip(list, [], [], { dataPkl: Buffer.from([0x80, 0x02, 0x5d, 0x2e]) });
    expect(errorOf(() => readTorchZip(list)).message).toContain('data.pkl does not hold a dict (state dict) at the top level');
  });

  it('refuses a hostile data.pkl inside a valid zip, and nothing runs', () => {
    const marker = path.join(dir, 'pwned-zip');
    const file = path.join(dir, 'evil.bin');
    writeTorchZip(file, [], [], { dataPkl: hostile.stateDictWithPayload(marker) });
    const e = errorOf(() => openWeightFile(file));
    expect(e.code).toBe('WEIGHTS_UNSAFE_PICKLE');
    expect(e.message).toMatch(/evil\.bin \(archive\/data\.pkl\): refusing global "posix\.system" at byte \d+/);
    expect(fs.existsSync(marker)).toBe(false);
  });

  it('decodes with the chunked generator exactly like syntheticValues', () => {
    const s = { name: 'x', shape: [3, 3], dtype: 'BF16' as const };
    const bytes = Buffer.concat([...syntheticChunks(s, s.shape, 'BF16', 5)]);
    const fake = { name: 'x', dtype: 'BF16' as const, shape: [3, 3], file: '', offset: 0, length: bytes.length };
    expect(decode(fake, bytes)).toEqual([...syntheticValues(s, 5)]);
  });
});
