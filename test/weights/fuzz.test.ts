// Thousands of corrupted weight files: every reader must either succeed (with every tensor inside the file)
// or throw a CnextError — never another error type, never hang, never ask for more bytes than the file has.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { isCnextError } from '../../src/core/errors.ts';
import { readSafetensorsHeaderFrom } from '../../src/weights/safetensors.ts';
import { writeSyntheticSafetensors, writeSyntheticTorchZip } from '../../src/weights/synthetic.ts';
import { bufferSource, readTorchZipFrom, type ByteSource } from '../../src/weights/torch-zip.ts';
import { unpickle } from '../../src/weights/unpickler.ts';
import type { WeightEntry } from '../../src/weights/weight-source.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnext-fuzz-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const RUNS = 4000; // per property; 5 properties → 20 000 mutants (~2–5 s on 2 busy cores)
const spec = [
  { name: 'conv_in.weight', shape: [4, 3, 3, 3] },
  { name: 'conv_in.bias', shape: [4], dtype: 'F16' as const },
  { name: 'norm.weight', shape: [4], dtype: 'BF16' as const },
  { name: 'proj.weight', shape: [5, 4] },
  { name: 'position_ids', shape: [1, 3], dtype: 'I64' as const },
];

const zipFile = path.join(dir, 'base.bin');
writeSyntheticTorchZip(zipFile, spec, { seed: 1, transposed: { 'proj.weight': [1, 0] }, views: [{ name: 'v', of: 'conv_in.weight', offset: 7, shape: [2, 5] }] });
const zipBase = fs.readFileSync(zipFile);
const zip64File = path.join(dir, 'base64.bin');
writeSyntheticTorchZip(zip64File, spec, { seed: 1, forceZip64: true });
const zip64Base = fs.readFileSync(zip64File);
const stFile = path.join(dir, 'base.safetensors');
writeSyntheticSafetensors(stFile, spec, { seed: 1 });
const stBase = fs.readFileSync(stFile);

/** Edge values for 2-, 4- and 8-byte fields: lengths, counts and offsets gone wrong. */
const EDGE = [0, 1, 0x7f, 0xff, 0xffff, 0x7fffffff, 0xffffffff, 2 ** 32, 2 ** 53 - 1, 2 ** 62, 2 ** 64 - 1];

type Mutation =
  | { kind: 'truncate'; at: number }
  | { kind: 'flip'; flips: Array<{ at: number; xor: number }> }
  | { kind: 'field'; at: number; width: 2 | 4 | 8; edge: number; delta: number }
  | { kind: 'splice'; at: number; remove: number; insert: Uint8Array }
  | { kind: 'magic'; bytes: Uint8Array };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('flip' as const), flips: fc.array(fc.record({ at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }), { minLength: 1, maxLength: 8 }) }),
  fc.record({
    kind: fc.constant('field' as const), at: fc.nat(), width: fc.constantFrom(2 as const, 4 as const, 8 as const),
    edge: fc.constantFrom(...EDGE), delta: fc.integer({ min: -2, max: 2 }),
  }),
  fc.record({ kind: fc.constant('splice' as const), at: fc.nat(), remove: fc.nat({ max: 64 }), insert: fc.uint8Array({ maxLength: 64 }) }),
  fc.record({ kind: fc.constant('magic' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 9 }) }),
);

/** Field positions that matter more than random ones: every 2/4/8-byte slot of the zip records. */
function recordFieldPositions(bytes: Uint8Array): number[] {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: number[] = [];
  for (const [sig, len] of [[0x04034b50, 30], [0x02014b50, 46], [0x06054b50, 22], [0x06064b50, 56], [0x07064b50, 20]] as const) {
    for (let i = b.indexOf(Buffer.from(new Uint32Array([sig]).buffer)); i >= 0; i = b.indexOf(Buffer.from(new Uint32Array([sig]).buffer), i + 1)) {
      for (let k = 4; k < len; k += 2) out.push(i + k);
    }
  }
  return out;
}

function apply(base: Uint8Array, m: Mutation, targets: number[]): Buffer {
  const b = Buffer.from(base);
  switch (m.kind) {
    case 'truncate': return b.subarray(0, m.at % (b.length + 1));
    case 'flip': if (b.length) for (const f of m.flips) b[f.at % b.length] ^= f.xor; return b;
    case 'field': {
      if (b.length < m.width) return b;
      // half the time aim at a real record field, else anywhere
      const at = (m.at % 2 && targets.length ? targets[(m.at >> 1) % targets.length] : m.at) % (b.length - m.width + 1);
      const v = BigInt.asUintN(m.width * 8, BigInt(m.edge) + BigInt(m.delta));
      if (m.width === 2) b.writeUInt16LE(Number(v), at);
      else if (m.width === 4) b.writeUInt32LE(Number(v), at);
      else b.writeBigUInt64LE(v, at);
      return b;
    }
    case 'splice': {
      const at = m.at % (b.length + 1);
      return Buffer.concat([b.subarray(0, at), m.insert, b.subarray(Math.min(b.length, at + m.remove))]);
    }
    case 'magic': { Buffer.from(m.bytes).copy(b, 0); return b; }
  }
}

/** A successful read must only point inside the file, with consistent sizes. */
function checkEntries(entries: readonly WeightEntry[], size: number): void {
  for (const e of entries) {
    expect(Number.isSafeInteger(e.offset) && e.offset >= 0, e.name).toBe(true);
    expect(e.offset + e.length, e.name).toBeLessThanOrEqual(size);
    const n = e.shape.reduce((a, d) => a * d, 1);
    expect(e.length, e.name).toBe(n * { F32: 4, F16: 2, BF16: 2, F64: 8, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 }[e.dtype]);
    if (e.layout) expect(e.layout.storedShape.reduce((a, d) => a * d, 1)).toBe(n);
  }
}

let slowest = 0;
let total = 0;
/** What each run ended in: 'ok' or the error code plus the gist of the message (to see the fuzz goes deep). */
let outcomes = new Map<string, number>();
/** Run `f`: it may succeed or throw a CnextError; anything else fails the property. */
function expectCleanly(f: () => void): void {
  const t0 = performance.now();
  total++;
  try {
    f();
    outcomes.set('ok', (outcomes.get('ok') ?? 0) + 1);
  } catch (e) {
    if (!isCnextError(e)) throw new Error(`not a CnextError: ${(e as Error)?.stack ?? String(e)}`);
    expect(e.message).not.toContain('\n');
    const gist = `${e.code} ${e.message.replace(/^.*?: /, '').replace(/[\d"]+|\(.*/g, '').slice(0, 50)}`;
    outcomes.set(gist, (outcomes.get(gist) ?? 0) + 1);
  } finally {
    slowest = Math.max(slowest, performance.now() - t0);
  }
}

/** A byte source that records how much a reader asks for at once. */
function watched(bytes: Uint8Array): ByteSource & { maxRead: number } {
  const src = bufferSource(bytes);
  const w = { size: src.size, maxRead: 0, read(pos: number, len: number) { w.maxRead = Math.max(w.maxRead, len); return src.read(pos, len); } };
  return w;
}

/** Some mutants must still load and the failures must be varied, or the fuzz only scratches the surface. */
function expectDiverse(minKinds: number): void {
  if (process.env.FUZZ_STATS) console.log([...outcomes].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${n}\t${k}`).join('\n'));
  expect(outcomes.get('ok') ?? 0).toBeGreaterThan(0);
  expect(outcomes.size, [...outcomes.keys()].join(' | ')).toBeGreaterThanOrEqual(minKinds);
  outcomes = new Map();
}

function fuzzZip(base: Uint8Array, seed: number): void {
  const targets = recordFieldPositions(base);
  fc.assert(fc.property(fc.array(mutation, { minLength: 1, maxLength: 3 }), (ms) => {
    let b: Uint8Array = base;
    for (const m of ms) b = apply(b, m, targets);
    const src = watched(b);
    expectCleanly(() => checkEntries(readTorchZipFrom(src, 'fuzz.bin').entries, b.length));
    expect(src.maxRead).toBeLessThanOrEqual(b.length);
  }), { numRuns: RUNS, seed });
  expectDiverse(15);
}

describe('fuzz: corrupted weight files fail cleanly', () => {
  it(`torch zip: ${RUNS} mutants of a small state dict`, () => fuzzZip(zipBase, 1));

  it(`torch zip with zip64 records everywhere: ${RUNS} mutants`, () => fuzzZip(zip64Base, 2));

  it(`data.pkl: ${RUNS} mutated pickles, inside a zip with a valid CRC when the length allows`, () => {
    const name = Buffer.from('archive/data.pkl');
    const cd = zipBase.indexOf(name, zipBase.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]))) - 46;
    const pklAt = 64; // data.pkl is the first entry, 64-byte aligned
    const pklLen = zipBase.readUInt32LE(cd + 24);
    const pkl = zipBase.subarray(pklAt, pklAt + pklLen);
    fc.assert(fc.property(fc.array(mutation, { minLength: 1, maxLength: 3 }), (ms) => {
      let p: Uint8Array = pkl;
      for (const m of ms) p = apply(p, m, []);
      expectCleanly(() => { unpickle(p, 'fuzz.pkl'); });
      if (p.length === pklLen) {
        const b = Buffer.from(zipBase);
        b.set(p, pklAt);
        b.writeUInt32LE(crc32(p) >>> 0, cd + 16);
        expectCleanly(() => checkEntries(readTorchZipFrom(bufferSource(b), 'fuzz.bin').entries, b.length));
      }
    }), { numRuns: RUNS, seed: 3 });
    expectDiverse(15);
  });

  it(`safetensors: ${RUNS} byte-level mutants`, () => {
    fc.assert(fc.property(fc.array(mutation, { minLength: 1, maxLength: 3 }), (ms) => {
      let b: Uint8Array = stBase;
      for (const m of ms) b = apply(b, m, [0, 4]);
      const src = watched(b);
      expectCleanly(() => checkEntries(readSafetensorsHeaderFrom(src, 'fuzz.safetensors').entries, b.length));
      expect(src.maxRead).toBeLessThanOrEqual(b.length);
    }), { numRuns: RUNS, seed: 4 });
    expectDiverse(6);
  });

  it(`safetensors: ${RUNS} headers with bad JSON, huge numbers and out-of-bounds offsets`, () => {
    const headerLen = Number(stBase.readBigUInt64LE(0));
    const header = JSON.parse(stBase.subarray(8, 8 + headerLen).toString()) as Record<string, { dtype: string; shape: number[]; data_offsets: number[] }>;
    const names = Object.keys(header).filter((k) => k !== '__metadata__');
    const weird = fc.constantFrom<unknown>(-1, 1.5, 2 ** 53, 1e308, Number.MAX_SAFE_INTEGER, '3', null, [], {}, [1, 2, 3], true, 'F32', 'F8', '__proto__');
    const edit = fc.record({ tensor: fc.nat(), field: fc.constantFrom('dtype', 'shape', 'data_offsets', 'shape[0]', 'data_offsets[1]', 'delete', 'name'), value: weird });
    fc.assert(fc.property(fc.array(edit, { minLength: 1, maxLength: 3 }), fc.nat(), fc.boolean(), (edits, cut, rawCut) => {
      const h = structuredClone(header) as Record<string, Record<string, unknown>>;
      for (const edit of edits) {
        const e = { ...edit, value: structuredClone(edit.value) }; // fast-check shares constants between runs
        const n = names[e.tensor % names.length];
        const t = h[n];
        if (!t) continue;
        if (e.field === 'delete') delete h[n];
        else if (e.field === 'name') { delete h[n]; h[String(e.value)] = t; }
        else if (e.field === 'shape[0]') { if (Array.isArray(t.shape)) t.shape[0] = e.value; }
        else if (e.field === 'data_offsets[1]') { if (Array.isArray(t.data_offsets)) t.data_offsets[1] = e.value; }
        else t[e.field] = e.value;
      }
      let json = Buffer.from(JSON.stringify(h));
      if (rawCut) json = json.subarray(0, cut % (json.length + 1)); // not JSON any more
      const len = Buffer.alloc(8);
      len.writeBigUInt64LE(BigInt(json.length));
      const b = Buffer.concat([len, json, stBase.subarray(8 + headerLen)]);
      expectCleanly(() => checkEntries(readSafetensorsHeaderFrom(bufferSource(b), 'fuzz.safetensors').entries, b.length));
    }), { numRuns: RUNS, seed: 5 });
    expectDiverse(6);
  });

  it('no single read took long', () => {
    expect(slowest).toBeLessThan(1000);
    expect(total).toBeGreaterThanOrEqual(5 * RUNS);
  });
});
