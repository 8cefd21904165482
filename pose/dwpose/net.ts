// The two DWPose networks as the pre/post-processing sees them: one float32 input, outputs in session order
// (the reference reads the input name and shape from the session and takes the outputs by position). open.ts backs
// it with onnxruntime for the real files; the parity fixtures and tests plug in fakes.
import type { Tensor } from '../../src/core/tensor.ts';

export interface NetSession {
  /** Declared shape of the first input (−1 where symbolic). */
  readonly inputDims: readonly number[];
  /** One run on the first input; every output, in the session's order. */
  run(input: Tensor<'float32'>): Promise<Tensor<'float32'>[]>;
  release?(): Promise<void>;
}
