// The reduced-precision verdict for `cnext parity --precision tf32|fp16`. The fixtures' tolerances are for fp32
// (~1e-5) and stay the PASS/FAIL of every case in every precision; a tf32/fp16 run additionally reports, labelled
// as such, whether each output is within a bound relative to the reference's own magnitude:
//   max_abs ≤ 1e-2 · max|ref|  and  mean_abs ≤ 1e-2 · mean|ref|   (per output)
// i.e. about 20 units of roundoff of a 10-bit-mantissa format (TF32 inputs, fp16 storage: u = 2^-11 ≈ 4.9e-4).
// Checks without a reference tensor (images, scheduler) keep their strict verdict. This is a plausibility bound for
// the small fixtures, not the fp16 acceptance test (that one compares against torch fp16 at full size:
// the gpukit's fullsize_parity). Not yet checked on a GPU.
import type { Precision } from '../core/device.ts';
import type { OutputCheck } from './types.ts';

export const REDUCED_REL_BOUND = 1e-2;
export const REDUCED_BOUND_TEXT = 'max_abs ≤ 1e-2·max|ref|, mean_abs ≤ 1e-2·mean|ref|';

export interface ReducedVerdict {
  readonly precision: Precision;
  readonly pass: boolean;
  /** Worst max_abs / max|ref| and mean_abs / mean|ref| over the outputs that have a reference magnitude. */
  readonly relMax: number;
  readonly relMean: number;
}

export function withinReducedBound(ch: OutputCheck): boolean {
  if (ch.pass) return true;
  if (ch.refMaxAbs === undefined || ch.refMeanAbs === undefined) return false;
  return ch.maxAbs <= REDUCED_REL_BOUND * ch.refMaxAbs && ch.meanAbs <= REDUCED_REL_BOUND * ch.refMeanAbs;
}

export function reducedVerdict(precision: Precision, checks: readonly OutputCheck[]): ReducedVerdict {
  let relMax = 0;
  let relMean = 0;
  for (const ch of checks) {
    if (ch.refMaxAbs) relMax = Math.max(relMax, ch.maxAbs / ch.refMaxAbs);
    if (ch.refMeanAbs) relMean = Math.max(relMean, ch.meanAbs / ch.refMeanAbs);
  }
  return { precision, pass: checks.length > 0 && checks.every(withinReducedBound), relMax, relMean };
}
