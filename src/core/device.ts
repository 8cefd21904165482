// Where the networks run and in which number format. One definition for the CLI, presets, jobs, parity, bench
// and the session layer, so "fp16 on CPU" is refused the same way everywhere.
import { CnextError } from './errors.ts';

export const DEVICES = ['cpu', 'cuda'] as const;
export type Device = (typeof DEVICES)[number];

/**
 * - `fp32`: IEEE float32 everywhere; on CUDA with TF32 math switched off (the only mode that claims parity with
 *   the fp32 fixtures).
 * - `tf32`: fp32 tensors, but CUDA matmuls/convs may round their inputs to TF32 (ORT's CUDA default).
 * - `fp16`: weights used as stored in fp16, activations in fp16, fp32 kept where accuracy needs it.
 */
export const PRECISIONS = ['fp32', 'tf32', 'fp16'] as const;
export type Precision = (typeof PRECISIONS)[number];

/** The precision used when none is asked for: fp16 on the GPU (the fast path), fp32 on the CPU (the only one). */
export function defaultPrecision(device: Device): Precision {
  return device === 'cuda' ? 'fp16' : 'fp32';
}

/** Refuse combinations that have no implementation, with one line that names the alternatives. */
export function checkDevicePrecision(device: Device, precision: Precision): void {
  if (device === 'cpu' && precision !== 'fp32') {
    throw new CnextError('PRECISION_UNSUPPORTED', `--precision ${precision} needs --device cuda; the CPU runs fp32 only`, {
      solutions: ['Drop --precision (CPU uses fp32)', `Or run on the GPU: --device cuda --precision ${precision}`],
    });
  }
}

/** The precision a job runs in: the one asked for, else the device's default, checked. */
export function resolvePrecision(device: Device, precision?: Precision): Precision {
  const p = precision ?? defaultPrecision(device);
  checkDevicePrecision(device, p);
  return p;
}
