import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { floatToHalf, halfToFloat } from '../../src/core/tensor.ts';
import { DataType, GraphBuilder, MS_DOMAIN } from '../../src/onnx/builder.ts';
import { Session } from '../../src/onnx/session.ts';
import { openSafetensors, writeSafetensors } from '../../src/weights/safetensors.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cnext-builder-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function rand(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 30 - 1;
  });
}

describe('GraphBuilder', () => {
  it('runs a Linear whose fp32 and fp16 weights sit at odd offsets in a safetensors file', async () => {
    const [out, inp] = [5, 7];
    const w = rand(out * inp, 1);
    const b = rand(out, 2);
    const wh = Uint16Array.from(w, floatToHalf);
    const file = path.join(tmp, 'lin.safetensors');
    writeSafetensors(file, {
      pad: { dtype: 'U8', shape: [3], data: new Uint8Array(3) }, // pushes the next tensors to odd offsets
      'proj.weight': { dtype: 'F16', shape: [out, inp], data: new Uint8Array(wh.buffer) },
      'proj.bias': { dtype: 'F32', shape: [out], data: new Uint8Array(b.buffer) },
    });
    const weights = openSafetensors(file);
    expect(weights.get('proj.bias').offset % 2).toBe(1);
    const g = new GraphBuilder(weights);
    const x = g.input('x', DataType.FLOAT, ['n', inp]);
    const y = g.scope('proj', () => {
      const mm = g.op('FusedMatMul', [x, g.param('weight', [out, inp])], { transB: 1 }, { domain: MS_DOMAIN });
      return g.op('Add', [mm, g.param('bias', [out])]);
    });
    g.output(y, 'y', DataType.FLOAT, ['n', out]);
    const session = await Session.create(g.build());
    const xs = rand(2 * inp, 3);
    const res = await session.run({ x: { type: 'float32', dims: [2, inp], data: xs } });
    const got = res.y.data as Float32Array;
    for (let r = 0; r < 2; r++) {
      for (let o = 0; o < out; o++) {
        let acc = b[o];
        for (let i = 0; i < inp; i++) acc += xs[r * inp + i] * halfToFloat(wh[o * inp + i]);
        expect(got[r * out + o]).toBeCloseTo(acc, 5);
      }
    }
    await session.release();
  });

  it('names a weight whose shape does not match, with both shapes', () => {
    const file = path.join(tmp, 'bad.safetensors');
    writeSafetensors(file, { 'conv.weight': { dtype: 'F32', shape: [2, 3], data: new Uint8Array(24) } });
    const g = new GraphBuilder(openSafetensors(file));
    expect(() => g.scope('conv', () => g.param('weight', [3, 2]))).toThrow(
      /Shape mismatch for weight conv\.weight in .*bad\.safetensors: the config expects \[3, 2\], the file has \[2, 3\]/,
    );
  });
});
