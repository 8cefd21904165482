// diffusers `Timesteps` and `TimestepEmbedding` (src/diffusers/models/embeddings.py, v0.30.3).
import type { Value } from '../onnx/builder.ts';
import { linear, silu, toAct, type G } from './nn.ts';

/**
 * Sinusoidal embedding `Timesteps(dim, flip_sin_to_cos=True, downscale_freq_shift=0)`:
 * t [N] → [N, dim] = [cos(t·f), sin(t·f)], f_k = exp(−ln(10000)·k/half), computed in float32 like torch (t is
 * float32; in fp16 graphs the result is then cast to fp16, as diffusers does before `linear_1`).
 */
export function timesteps(g: G, t: Value, dimension: number): Value {
  const half = Math.floor(dimension / 2);
  const lnMax = Math.fround(-Math.log(10000));
  const freqs = Float32Array.from({ length: half }, (_, k) => Math.fround(Math.exp(Math.fround(Math.fround(lnMax * k) / half))));
  const arg = g.op('Mul', [g.op('Unsqueeze', [t, g.constInt64([1])]), g.constFloat(freqs, [1, half])]);
  const emb = g.op('Concat', [g.op('Cos', [arg]), g.op('Sin', [arg])], { axis: 1 });
  return toAct(g, dimension % 2 === 1 ? g.op('Pad', [emb, g.constInt64([0, 0, 0, 1])]) : emb);
}

/** `TimestepEmbedding(in, out)`: linear_1 → SiLU → linear_2 (outF2 defaults to out). */
export function timestepEmbedding(g: G, name: string, x: Value, inF: number, outF: number, outF2 = outF): Value {
  return g.scope(name, () => linear(g, 'linear_2', silu(g, linear(g, 'linear_1', x, inF, outF)), outF, outF2));
}
