// Attention helpers against plain-TypeScript references: MultiHeadAttention self-attention at a long sequence
// (1100 tokens), the one-token cross-attention shortcut, and GEGLU's halves.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { absDiff, asFloat32, float32, type Float32Tensor } from '../../src/core/tensor.ts';
import { feedForwardGEGLU, selfAttention, singleTokenCrossAttention } from '../../src/nets/attention.ts';
import { DataType, GraphBuilder, type Value } from '../../src/onnx/builder.ts';
import { Session } from '../../src/onnx/session.ts';
import { openSafetensors, writeSafetensors, type TensorToWrite } from '../../src/weights/safetensors.ts';
import type { WeightSource } from '../../src/weights/weight-source.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnext-attn-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function rand(n: number, seed: number, a = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = ((s / 2 ** 32) * 2 - 1) * a;
  }
  return out;
}

/** Write named fp32 tensors to a safetensors file and open it. */
function weightFile(name: string, tensors: Record<string, { shape: number[]; data: Float32Array }>): WeightSource {
  const file = path.join(dir, `${name}.safetensors`);
  const out: Record<string, TensorToWrite> = {};
  for (const [k, t] of Object.entries(tensors)) out[k] = { dtype: 'F32', shape: t.shape, data: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength) };
  writeSafetensors(file, out);
  return openSafetensors(file);
}

async function runGraph(weights: WeightSource, inputs: Record<string, Float32Tensor>, outDims: number[], body: (g: GraphBuilder, x: Record<string, Value>) => Value): Promise<Float32Tensor> {
  const g = new GraphBuilder(weights);
  const vals: Record<string, Value> = {};
  for (const [k, t] of Object.entries(inputs)) vals[k] = g.input(k, DataType.FLOAT, t.dims);
  g.output(body(g, vals), 'y', DataType.FLOAT, outDims);
  weights.assertAllUsed();
  const s = await Session.create(g.build(), { threads: 2 });
  try {
    return asFloat32((await s.run(inputs)).y, 'y');
  } finally {
    await s.release();
  }
}

/** y = x · Wᵀ (+ b); x [n, in], W [out, in]. */
function lin(x: Float32Array, n: number, inF: number, w: Float32Array, outF: number, b?: Float32Array): Float32Array {
  const y = new Float32Array(n * outF);
  for (let r = 0; r < n; r++) {
    for (let o = 0; o < outF; o++) {
      let acc = b ? b[o] : 0;
      for (let i = 0; i < inF; i++) acc += x[r * inF + i] * w[o * inF + i];
      y[r * outF + o] = acc;
    }
  }
  return y;
}

describe('selfAttention (com.microsoft MultiHeadAttention)', () => {
  it('equals softmax(q·kᵀ/√dh)·v per head at S = 1100, heads split as head·dh + d', async () => {
    const [N, S, C, heads, dh] = [1, 1100, 64, 2, 32];
    const w = {
      'a.to_q.weight': { shape: [C, C], data: rand(C * C, 1, 0.2) },
      'a.to_k.weight': { shape: [C, C], data: rand(C * C, 2, 0.2) },
      'a.to_v.weight': { shape: [C, C], data: rand(C * C, 3, 0.2) },
      'a.to_out.0.weight': { shape: [C, C], data: rand(C * C, 4, 0.2) },
      'a.to_out.0.bias': { shape: [C], data: rand(C, 5, 0.1) },
    };
    const x = float32([N, S, C], rand(N * S * C, 6));
    const y = await runGraph(weightFile('mha', w), { x }, [N, S, C], (g, v) => selfAttention(g, 'a', v.x, { queryDim: C, heads, dimHead: dh }));
    // reference
    const q = lin(x.data, S, C, w['a.to_q.weight'].data, C);
    const k = lin(x.data, S, C, w['a.to_k.weight'].data, C);
    const vv = lin(x.data, S, C, w['a.to_v.weight'].data, C);
    const o = new Float32Array(S * C);
    const sc = new Float64Array(S);
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < S; i++) {
        let max = -Infinity;
        for (let j = 0; j < S; j++) {
          let d = 0;
          for (let e = 0; e < dh; e++) d += q[i * C + h * dh + e] * k[j * C + h * dh + e];
          sc[j] = d / Math.sqrt(dh);
          if (sc[j] > max) max = sc[j];
        }
        let sum = 0;
        for (let j = 0; j < S; j++) sum += (sc[j] = Math.exp(sc[j] - max));
        for (let e = 0; e < dh; e++) {
          let acc = 0;
          for (let j = 0; j < S; j++) acc += sc[j] * vv[j * C + h * dh + e];
          o[i * C + h * dh + e] = acc / sum;
        }
      }
    }
    const ref = lin(o, S, C, w['a.to_out.0.weight'].data, C, w['a.to_out.0.bias'].data);
    expect(y.dims).toEqual([N, S, C]);
    expect(absDiff(y.data, ref).maxAbs).toBeLessThan(2e-5);
  });
});

describe('singleTokenCrossAttention', () => {
  it('is to_out(to_v(ctx)) and checks the unused to_q/to_k shapes', async () => {
    const [N, Cq, D, heads, dh] = [3, 16, 24, 2, 8];
    const w = {
      'b.to_q.weight': { shape: [heads * dh, Cq], data: rand(heads * dh * Cq, 7) },
      'b.to_k.weight': { shape: [heads * dh, D], data: rand(heads * dh * D, 8) },
      'b.to_v.weight': { shape: [heads * dh, D], data: rand(heads * dh * D, 9) },
      'b.to_out.0.weight': { shape: [Cq, heads * dh], data: rand(Cq * heads * dh, 10) },
      'b.to_out.0.bias': { shape: [Cq], data: rand(Cq, 11) },
    };
    const ctx = float32([N, 1, D], rand(N * D, 12));
    const y = await runGraph(weightFile('cross', w), { ctx }, [N, 1, Cq], (g, v) => singleTokenCrossAttention(g, 'b', v.ctx, { queryDim: Cq, crossDim: D, heads, dimHead: dh }));
    const ref = lin(lin(ctx.data, N, D, w['b.to_v.weight'].data, heads * dh), N, heads * dh, w['b.to_out.0.weight'].data, Cq, w['b.to_out.0.bias'].data);
    expect(absDiff(y.data, ref).maxAbs).toBeLessThan(1e-5);

    const wrong = { ...w, 'b.to_k.weight': { shape: [heads * dh, D + 1], data: rand(heads * dh * (D + 1), 8) } };
    const ws = weightFile('cross-wrong', wrong);
    const g = new GraphBuilder(ws);
    expect(() => singleTokenCrossAttention(g, 'b', g.input('ctx', DataType.FLOAT, [N, 1, D]), { queryDim: Cq, crossDim: D, heads, dimHead: dh })).toThrowError(
      /Shape mismatch for weight b\.to_k\.weight in .*: the config expects \[16, 24\], the file has \[16, 25\]/,
    );
  });
});

describe('feedForwardGEGLU', () => {
  it('multiplies the first half (value) by GELU of the second half (gate)', async () => {
    const [n, C, inner] = [5, 8, 32];
    const w = {
      'f.net.0.proj.weight': { shape: [2 * inner, C], data: rand(2 * inner * C, 13, 0.25) },
      'f.net.0.proj.bias': { shape: [2 * inner], data: rand(2 * inner, 14) },
      'f.net.2.weight': { shape: [C, inner], data: rand(C * inner, 15) },
      'f.net.2.bias': { shape: [C], data: rand(C, 16) },
    };
    const x = float32([n, C], rand(n * C, 17));
    const y = await runGraph(weightFile('ff', w), { x }, [n, C], (g, v) => feedForwardGEGLU(g, 'f', v.x, C));
    const p = lin(x.data, n, C, w['f.net.0.proj.weight'].data, 2 * inner, w['f.net.0.proj.bias'].data);
    const erf = (z: number) => {
      // Maclaurin series of erf (|z| < 2 here)
      let sum = 0;
      let term = z;
      for (let k = 0; k < 60; k++) {
        sum += term / (2 * k + 1);
        term *= (-z * z) / (k + 1);
      }
      return (2 / Math.sqrt(Math.PI)) * sum;
    };
    const h = new Float32Array(n * inner);
    for (let r = 0; r < n; r++) {
      for (let i = 0; i < inner; i++) {
        const a = p[r * 2 * inner + i];
        const b = p[r * 2 * inner + inner + i];
        h[r * inner + i] = a * 0.5 * b * (1 + erf(b / Math.SQRT2));
      }
    }
    const ref = lin(h, n, inner, w['f.net.2.weight'].data, C, w['f.net.2.bias'].data);
    expect(absDiff(y.data, ref).maxAbs).toBeLessThan(1e-4);
  });
});
