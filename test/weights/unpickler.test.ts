import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CnextError } from '../../src/core/errors.ts';
import { pickleStateDict } from '../../src/weights/torch-zip-writer.ts';
import {
  PickleDict, PickleList, PickleTuple, TorchTensor, unpickle,
} from '../../src/weights/unpickler.ts';
import * as hostile from './hostile.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnext-unpickle-'));
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

describe('unpickle: hostile pickles are refused by name and nothing runs', () => {
  const cases: Array<[string, (m: string) => Buffer, string]> = [
    ['posix.system', hostile.posixSystem, 'global "posix.system" at byte 2'],
    ['os.system', hostile.osSystem, 'global "os.system" at byte 2'],
    ['builtins.eval', hostile.builtinsEval, 'global "builtins.eval" at byte 2'],
    ['subprocess.Popen (STACK_GLOBAL)', hostile.subprocessPopen, 'global "subprocess.Popen" at byte 21'],
    ['INST os system', hostile.instOsSystem, 'opcode INST at byte'],
  ];
  for (const [label, make, text] of cases) {
    it(label, () => {
      const marker = path.join(dir, `pwned-${label.replace(/\W/g, '_')}`);
      const e = errorOf(() => unpickle(make(marker), 'evil.pkl'));
      expect(e.code).toBe('WEIGHTS_UNSAFE_PICKLE');
      expect(e.message).toContain(`evil.pkl: refusing ${text}`);
      expect(e.message).toContain('nothing was executed');
      expect(e.message).not.toContain('\n');
      expect(fs.existsSync(marker)).toBe(false);
    });
  }

  it('a payload after legitimate state-dict entries', () => {
    const marker = path.join(dir, 'pwned-statedict');
    const e = errorOf(() => unpickle(hostile.stateDictWithPayload(marker), 'x.pkl'));
    expect(e.message).toMatch(/^x\.pkl: refusing global "posix\.system" at byte \d+: only PyTorch state-dict objects are allowed/);
    expect(fs.existsSync(marker)).toBe(false);
  });

  it('refuses calling a storage class, REDUCE of non-globals, BUILD on non-OrderedDicts and other opcodes', () => {
    // torch.FloatStorage is only valid inside a persistent id
    const callStorage = Buffer.concat([Buffer.from('\x80\x02ctorch\nFloatStorage\n)R.', 'latin1')]);
    expect(errorOf(() => unpickle(callStorage, 'p')).message).toBe(
      'p: refusing call of torch.FloatStorage at byte 23: only PyTorch state-dict objects are allowed (nothing was executed)',
    );
    expect(errorOf(() => unpickle(Buffer.from('\x80\x02K\x01)R.', 'latin1'), 'p')).message).toContain(
      'refusing REDUCE of a value that is not a whitelisted global at byte 5',
    );
    expect(errorOf(() => unpickle(Buffer.from('\x80\x02]}b.', 'latin1'), 'p')).message).toContain('refusing BUILD on anything but an OrderedDict');
    for (const [op, name] of [[0x81, 'NEWOBJ'], [0x6f, 'OBJ'], [0x92, 'NEWOBJ_EX'], [0x50, 'PERSID'], [0x82, 'EXT1'], [0x97, 'NEXT_BUFFER']] as const) {
      expect(errorOf(() => unpickle(Buffer.from([0x80, 2, op]), 'p')).message).toContain(`refusing opcode ${name} at byte 2`);
    }
    expect(errorOf(() => unpickle(Buffer.from([0x80, 2, 0xff]), 'p')).message).toBe('p: malformed pickle at byte 2: unknown opcode 0xff');
  });

  it('refuses persistent ids that are not torch storages', () => {
    const pid = Buffer.from('\x80\x02(X\x07\x00\x00\x00storagecposix\nsystem\n', 'latin1');
    expect(errorOf(() => unpickle(pid, 'p')).message).toContain('refusing global "posix.system"');
    const notStorage = Buffer.from('\x80\x02(X\x03\x00\x00\x00fooK\x01K\x02K\x03K\x04tQ.', 'latin1');
    expect(errorOf(() => unpickle(notStorage, 'p')).message).toContain('refusing a persistent id that is not a torch storage');
  });
});

describe('unpickle: the state-dict vocabulary', () => {
  it('parses what pickleStateDict writes (byte-identical to torch 1.13 torch.save, checked by hand)', () => {
    const storages = new Map([
      ['0', { key: '0', dtype: 'F16' as const, numel: 12, chunks: () => [] }],
      ['1', { key: '1', dtype: 'I64' as const, numel: 70000, chunks: () => [] }],
    ]);
    const tensors = [
      { name: 'a.weight', storage: '0', storageOffset: 0, shape: [3, 4], stride: [1, 3] },
      { name: 'a.b.bias', storage: '1', storageOffset: 300, shape: [70000 - 300], stride: [1] },
      { name: 'view', storage: '0', storageOffset: 2, shape: [2, 2, 2], stride: [4, 2, 1] },
    ];
    const root = unpickle(pickleStateDict(tensors, storages), 'sd');
    expect(root).toBeInstanceOf(PickleDict);
    const d = root as PickleDict;
    expect(d.ordered).toBe(true);
    expect([...d.map.keys()]).toEqual(['a.weight', 'a.b.bias', 'view']);
    const w = d.map.get('a.weight') as TorchTensor;
    expect(w).toBeInstanceOf(TorchTensor);
    expect([w.storage.dtype, w.storage.key, w.storage.location, w.storage.numel]).toEqual(['F16', '0', 'cpu', 12]);
    expect([w.size, w.stride, w.storageOffset]).toEqual([[3, 4], [1, 3], 0]);
    const b = d.map.get('a.b.bias') as TorchTensor;
    expect([b.storage.dtype, b.storage.numel, b.storageOffset, b.size]).toEqual(['I64', 70000, 300, [69700]]);
    // Two tensors on one storage share the same record (torch dedupes storages by key).
    expect((d.map.get('view') as TorchTensor).storage).toBe(w.storage);
    // _metadata lands in the OrderedDict's BUILD state
    const meta = (d.state as PickleDict).map.get('_metadata') as PickleDict;
    expect([...meta.map.keys()]).toEqual(['', 'a', 'a.b']);
  });

  it('reads ints of every width, floats, bytes, lists, tuples, memo and DUP', () => {
    const p = Buffer.concat([
      Buffer.from([0x80, 0x02, 0x5d, 0x71, 0x00, 0x28]), // EMPTY_LIST BINPUT 0 MARK
      Buffer.from([0x4b, 0xff, 0x4d, 0x34, 0x12, 0x4a, 0xfe, 0xff, 0xff, 0xff]), // 255, 0x1234, -2
      Buffer.from([0x8a, 0x05, 0x00, 0x00, 0x00, 0x00, 0x01]), // LONG1 2^32
      Buffer.from([0x8a, 0x01, 0xff]), // LONG1 -1
      Buffer.from([0x8a, 0x08, 0, 0, 0, 0, 0, 0, 0, 0x40]), // 2^62: not a safe integer → bigint
      Buffer.from([0x47, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0]), // BINFLOAT 1.5
      Buffer.from([0x43, 0x02, 0x61, 0x62]), // SHORT_BINBYTES "ab"
      Buffer.from([0x88, 0x89, 0x4e]), // True False None
      Buffer.from([0x4b, 0x07, 0x32, 0x86]), // 7 DUP TUPLE2
      Buffer.from([0x68, 0x00]), // BINGET 0 (the list itself)
      Buffer.from([0x65, 0x2e]), // APPENDS STOP
    ]);
    const l = unpickle(p, 'p') as PickleList;
    expect(l).toBeInstanceOf(PickleList);
    expect(l.items.slice(0, 6)).toEqual([255, 0x1234, -2, 2 ** 32, -1, 2n ** 62n]);
    expect(l.items[6]).toBe(1.5);
    expect([...(l.items[7] as Uint8Array)]).toEqual([0x61, 0x62]);
    expect(l.items.slice(8, 11)).toEqual([true, false, null]);
    expect((l.items[11] as PickleTuple).items).toEqual([7, 7]);
    expect(l.items[12]).toBe(l); // a self-reference is fine as data
  });

  it('reports broken pickles as WEIGHTS_MALFORMED with the byte position', () => {
    const cases: Array<[number[] | string, string]> = [
      [[0x80, 0x02], 'p: malformed pickle at byte 2: needs 1 bytes, 0 left (truncated?)'],
      [[0x80, 0x02, 0x58, 0xff, 0xff, 0xff, 0x7f], 'p: malformed pickle at byte 2: needs 2147483647 bytes, 0 left (truncated?)'],
      [[0x80, 0x02, 0x68, 0x05], 'p: malformed pickle at byte 2: memo entry 5 was never stored'],
      [[0x80, 0x02, 0x74], 'p: malformed pickle at byte 2: no MARK on the stack'],
      [[0x80, 0x02, 0x30], 'p: malformed pickle at byte 2: stack underflow'],
      [[0x80, 0x02, 0x4e, 0x4e, 0x2e], 'p: malformed pickle at byte 4: STOP with 2 values on the stack'],
      [[0x80, 0x09], 'p: malformed pickle at byte 0: unknown pickle protocol 9'],
      [[0x80, 0x02, 0x8a, 0x09], 'p: malformed pickle at byte 2: integer of 9 bytes is too large'],
      ['\x80\x02ccollections\nOrderedDict', 'p: malformed pickle at byte 2: unterminated GLOBAL name'],
      ['\x80\x02}K\x01u.', 'p: malformed pickle at byte 5: no MARK on the stack'],
      ['\x80\x02}(K\x01u.', 'p: malformed pickle at byte 6: odd number of items for SETITEMS'],
    ];
    for (const [bytes, msg] of cases) {
      const e = errorOf(() => unpickle(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : Buffer.from(bytes), 'p'));
      expect(e.code).toBe('WEIGHTS_MALFORMED');
      expect(e.message).toBe(msg);
    }
  });

  it('checks _rebuild_tensor_v2 arguments', () => {
    const head = '\x80\x02ctorch._utils\n_rebuild_tensor_v2\n(';
    const pid = '(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x06tQ';
    const ok = `${head}${pid}K\x00K\x02K\x03\x86K\x03K\x01\x86\x89NtR.`;
    expect(unpickle(Buffer.from(ok, 'latin1'), 'p')).toBeInstanceOf(TorchTensor);
    const badStride = `${head}${pid}K\x00K\x02K\x03\x86K\x03\x85\x89NtR.`;
    expect(errorOf(() => unpickle(Buffer.from(badStride, 'latin1'), 'p')).message).toContain('tensor size has 2 dims but stride 1');
    const floatSize = `${head}${pid}K\x00G\x3f\xf8\x00\x00\x00\x00\x00\x00\x85K\x01\x85\x89NtR.`;
    expect(errorOf(() => unpickle(Buffer.from(floatSize, 'latin1'), 'p')).message).toContain('tensor size is not an integer');
    const notStorage = `${head}K\x00K\x00K\x02\x85K\x01\x85\x89NtR.`;
    expect(errorOf(() => unpickle(Buffer.from(notStorage, 'latin1'), 'p')).message).toContain('first argument is not a storage');
  });
});
