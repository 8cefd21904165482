// Where the pipeline hands intermediate tensors (fixture `dbg.*` names) for parity checks and debugging.
// `want` is asked first so that nothing is copied or assembled unless someone keeps it.
import type { Float32Tensor } from '../core/tensor.ts';

export interface DebugSink {
  want(name: string): boolean;
  put(name: string, tensor: Float32Tensor): void;
}

/** Calls `make` and stores its result only when the sink wants `name`. */
export function debugPut(sink: DebugSink | undefined, name: string, make: () => Float32Tensor): void {
  if (sink?.want(name)) sink.put(name, make());
}

/** A sink that keeps every tensor whose name passes `filter` (all by default). */
export function collectDebug(filter: (name: string) => boolean = () => true): DebugSink & { readonly tensors: Map<string, Float32Tensor> } {
  const tensors = new Map<string, Float32Tensor>();
  return { tensors, want: filter, put: (name, t) => void tensors.set(name, t) };
}
