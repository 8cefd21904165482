// Shared by the dwpose_* parity kinds (../shared/fixtures/README.md §7): reading the case's images and sparse
// detector outputs, and the fake sessions that stand in for the two ONNX models (the fixtures pin everything
// around the networks, not the networks).
import { CnextError } from '../../core/errors.ts';
import type { Tensor } from '../../core/tensor.ts';
import type { NetSession } from '../../../pose/dwpose/net.ts';
import type { Canvas } from '../../../pose/raster/canvas.ts';
import type { ParityCase } from '../types.ts';

export function tensor(c: ParityCase, name: string, type?: Tensor['type']): Tensor {
  const t = c.io.get(name);
  if (!t) throw new CnextError('PARITY_MISSING_TENSOR', `${c.name}: io.safetensors has no tensor ${name}`);
  if (type && t.type !== type) throw new CnextError('PARITY_CASE_INVALID', `${c.name}: ${name} is ${t.type}, expected ${type}`);
  return t;
}

/** A uint8 (H, W, 3) image tensor as a canvas. */
export function image(c: ParityCase, name: string): Canvas {
  const t = tensor(c, name, 'uint8');
  if (t.dims.length !== 3 || t.dims[2] !== 3) throw new CnextError('PARITY_CASE_INVALID', `${c.name}: ${name} must be [H, W, 3], got [${t.dims.join(', ')}]`);
  return { height: t.dims[0], width: t.dims[1], data: t.data as Uint8Array };
}

/** The raw detector output [1, 8400, 85] from its sparse form `<prefix>.fill/.index/.rows` (README §7.1). */
export function sparseDetOutput(c: ParityCase, prefix: string): Tensor<'float32'> {
  const fill = tensor(c, `${prefix}.fill`, 'float32').data as Float32Array;
  const index = tensor(c, `${prefix}.index`, 'int32').data as Int32Array;
  const rows = tensor(c, `${prefix}.rows`, 'float32').data as Float32Array;
  const cols = fill.length, A = 8400;
  const data = new Float32Array(A * cols);
  for (let a = 0; a < A; a++) data.set(fill, a * cols);
  index.forEach((a, k) => data.set(rows.subarray(k * cols, (k + 1) * cols), a * cols));
  return { type: 'float32', dims: [1, A, cols], data };
}

/** A fake session: declares `inputDims`, records every input, answers call j with `answers[j]`. */
export function fakeSession(inputDims: readonly number[], answers: ReadonlyArray<Tensor<'float32'>[]>): NetSession & { inputs: Tensor<'float32'>[] } {
  const inputs: Tensor<'float32'>[] = [];
  return {
    inputDims,
    inputs,
    async run(t) {
      const a = answers[inputs.length];
      inputs.push(t);
      if (!a) throw new CnextError('PARITY_CASE_INVALID', `fake session called ${inputs.length} times, the case answers ${answers.length}`);
      return a;
    },
  };
}

export const f32Tensor = (dims: readonly number[], data: ArrayLike<number>): Tensor<'float32'> => ({ type: 'float32', dims: [...dims], data: Float32Array.from(data) });
export const i32Tensor = (dims: readonly number[], data: ArrayLike<number>): Tensor<'int32'> => ({ type: 'int32', dims: [...dims], data: Int32Array.from(data) });
export const u8Tensor = (dims: readonly number[], data: Uint8Array): Tensor<'uint8'> => ({ type: 'uint8', dims: [...dims], data });
