// Sliding windows over the frames (ControlNeXt-SVD-v2 pipeline, fixtures README §5.8 step 7):
// starts s = 0, fpb−overlap, 2(fpb−overlap), … while s < F − overlap; a window that would run past the end
// starts at F − fpb instead. frames_per_batch is first clipped to F, as upstream does.
import { CnextError } from '../core/errors.ts';
import { invalidParameterError } from '../core/is.ts';

export interface WindowPlan {
  /** frames_per_batch after `min(frames_per_batch, F)`. */
  readonly framesPerBatch: number;
  readonly overlap: number;
  /** First frame of each window, in the order they run. */
  readonly starts: readonly number[];
  /** How many windows contribute to each frame when merging (first frame of non-first windows excluded). */
  readonly counts: Float32Array;
}

export function planWindows(numFrames: number, framesPerBatch: number, overlap: number): WindowPlan {
  if (!Number.isInteger(numFrames) || numFrames < 1) throw invalidParameterError('numFrames', 'integer of at least 1', numFrames);
  if (!Number.isInteger(framesPerBatch) || framesPerBatch < 1) {
    throw invalidParameterError('framesPerBatch', 'integer of at least 1', framesPerBatch);
  }
  const fpb = Math.min(framesPerBatch, numFrames);
  if (!Number.isInteger(overlap) || overlap < 0 || overlap >= fpb) {
    throw invalidParameterError('overlap', `integer between 0 and ${fpb - 1} (below the ${fpb} frames per batch)`, overlap);
  }
  const stride = fpb - overlap;
  const starts: number[] = [];
  for (let s = 0; s < numFrames - overlap; s += stride) starts.push(s + fpb > numFrames ? numFrames - fpb : s);
  const counts = new Float32Array(numFrames);
  for (const s of starts) for (let f = s === 0 ? 0 : s + 1; f < s + fpb; f++) counts[f] += 1;
  const gap = counts.indexOf(0);
  if (gap >= 0) {
    // Upstream divides by a zero count here and returns NaN frames.
    throw new CnextError(
      'INVALID_PARAMETER',
      `Frame ${gap} is not covered by any window (frames per batch ${fpb}, overlap ${overlap}, ${numFrames} frames): ` +
        'each window after the first drops its first frame when merging, so overlap must be at least 1 when more than one window is needed',
    );
  }
  return { framesPerBatch: fpb, overlap, starts, counts };
}

/** The window starts alone (fixtures' `window_starts`). */
export function windowStarts(numFrames: number, framesPerBatch: number, overlap: number): number[] {
  return [...planWindows(numFrames, framesPerBatch, overlap).starts];
}
