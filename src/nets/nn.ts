// Layer helpers shared by every network: the torch module → ONNX op mapping, in one place.
// Each takes the builder, reads its parameters from the current scope (so `conv1.weight` is looked up as
// `<scope>.conv1.weight`) and returns the output value.
import type { Precision } from '../core/device.ts';
import { DataType, GraphBuilder, MS_DOMAIN, type Value } from '../onnx/builder.ts';
import type { SessionOptions } from '../onnx/session.ts';

export type G = GraphBuilder;

// ---- number formats -------------------------------------------------------------------------------------
// fp32 and tf32 build the float32 graphs; fp16 builds graphs whose activations and weights are float16, with
// float32 islands where accuracy needs them. The helpers below are no-ops in float32 graphs, so those stay node for
// node what they were. Per op (R = decided by reasoning, M = measured on ORT's CPU only, none on a GPU yet):
// - weights: used as stored when stored in fp16 (no Cast); fp32-stored weights get one Cast on the initializer,
//   folded at session creation. Exception: AlphaBlender's scalar mix_factor, sigmoid'd in fp32 (folded). R
// - GroupNorm (InstanceNormalization on groups): statistics in an fp32 island (Cast → IN → Cast), affine in fp16.
//   Sums over up to ~10⁷ values per group at 576×1024; torch also accumulates in fp32. R
// - LayerNorm: one fp16 LayerNormalization; its stash_type (default 1) makes the kernel compute mean/variance in
//   fp32 — the island is inside the op. R
// - attention: MultiHeadAttention in fp16. ORT's CUDA flash (head dim ≤ 256: UNet 64, CLIP 80) and cutlass
//   memory-efficient kernels accumulate QKᵀ and the softmax in fp32; the unfused fallback
//   (contrib_ops/cuda/bert/attention_softmax.cu) reads the fp16 scores as float, reduces max and sum in float and
//   writes fp16 probabilities. R (which kernel the VAE's single 512-wide head gets: unmeasured)
// - timestep sinusoids (UNet time/added-time ids/frame positions, ControlNeXt): fp32, cast after Sin/Cos. R
// - the ControlNeXt injection in the UNet (row mean/std of both tensors, ratio, pooling): one fp32 island. R
// - the VAE encoder follows the config's force_upcast (SVD sets it): fp32, as diffusers' SVD pipeline encodes the
//   image with the VAE upcast; the decoder is fp16. R (reference behaviour)
// - graph IO: float32 for the small tensors (latents, embeddings, decoded frames: cast in the graph); float16 for
//   the pose frames, ControlNeXt stem/output and the UNet's control_output (the largest transfer: ~550 MB per UNet
//   call in fp32 at 576×1024×24, halved, and never converted on the host). R
// fp16 vs the fp32 fixtures on ORT's CPU (test/nets/fp16.test.ts): max |error| / max |ref| 0.09 % (ControlNeXt),
// 0.17 % (UNet), 0.1 % (VAE decoder), 0.07 % (CLIP); pipeline_tiny with fp16 ControlNeXt + UNet:
// frames within 2.5e-3 (test/diffusion/load.test.ts). M

/**
 * What a network loader takes: the session's options plus the precision its graph is built for (default fp32;
 * tf32 builds the fp32 graph — TF32 math is a session setting).
 */
export type NetOptions = SessionOptions & { readonly precision?: Precision };

/** The activations' format of a graph built for `precision`. */
export function activationType(precision: Precision = 'fp32'): DataType.FLOAT | DataType.FLOAT16 {
  return precision === 'fp16' ? DataType.FLOAT16 : DataType.FLOAT;
}

/** A float32 value (graph input, fp32 island result) into the activations' format. */
export function toAct(g: G, x: Value): Value {
  return g.float === DataType.FLOAT ? x : g.op('Cast', [x], { to: g.float });
}

/** An activation into float32 (graph outputs, entering an fp32 island). */
export function toF32(g: G, x: Value): Value {
  return g.float === DataType.FLOAT ? x : g.op('Cast', [x], { to: DataType.FLOAT });
}

/** torch.nn.Linear: y = x·Wᵀ + b with W [out, in] used as stored (FusedMatMul transB, no Transpose on the weight). */
export function linear(g: G, name: string, x: Value, inF: number, outF: number, bias = true): Value {
  return g.scope(name, () => {
    const y = g.op('FusedMatMul', [x, g.param('weight', [outF, inF])], { transB: 1 }, { domain: MS_DOMAIN });
    return bias ? g.op('Add', [y, g.param('bias', [outF])]) : y;
  });
}

export interface ConvSpec {
  inC: number;
  outC: number;
  /** Kernel size per spatial axis (2-D: [kh, kw]; 3-D: [kt, kh, kw]). A number means square 2-D. */
  kernel: number | readonly number[];
  stride?: number;
  /** Symmetric padding per spatial axis, or explicit ONNX pads. */
  pad?: number | readonly number[];
  bias?: boolean;
}

/** torch.nn.Conv2d / Conv3d (from the kernel rank). */
export function conv(g: G, name: string, x: Value, spec: ConvSpec): Value {
  const k = typeof spec.kernel === 'number' ? [spec.kernel, spec.kernel] : [...spec.kernel];
  const rank = k.length;
  const pad = spec.pad ?? 0;
  const pads = typeof pad === 'number' ? Array(2 * rank).fill(pad) : pad.length === rank ? [...pad, ...pad] : [...pad];
  return g.scope(name, () =>
    g.op(
      'Conv',
      [x, g.param('weight', [spec.outC, spec.inC, ...k]), spec.bias === false ? null : g.param('bias', [spec.outC])],
      { kernel_shape: k, strides: Array(rank).fill(spec.stride ?? 1), pads },
    ),
  );
}

export function silu(g: G, x: Value): Value {
  return g.op('Mul', [x, g.op('Sigmoid', [x])]);
}

/** Exact (erf) GELU, opset 20+. */
export function gelu(g: G, x: Value): Value {
  return g.op('Gelu', [x]);
}

export function relu(g: G, x: Value): Value {
  return g.op('Relu', [x]);
}

// ---- shapes ---------------------------------------------------------------------------------------------

/** Dimension `i` of `x` as an int64 [1] value (dynamic shapes). */
export function dim(g: G, x: Value, i: number): Value {
  return g.op('Shape', [x], { start: i, end: i === -1 ? undefined : i + 1 });
}

/** Build an int64 shape vector from dynamic parts (int64 [1] values) and constants. */
export function shape(g: G, parts: ReadonlyArray<Value | number>): Value {
  if (parts.every((p) => typeof p === 'number')) return g.constInt64(parts as number[]);
  return g.op('Concat', parts.map((p) => (typeof p === 'number' ? g.constInt64([p]) : p)), { axis: 0 });
}

export function reshape(g: G, x: Value, parts: ReadonlyArray<Value | number>): Value {
  return g.op('Reshape', [x, shape(g, parts)]);
}

export function transpose(g: G, x: Value, perm: readonly number[]): Value {
  return g.op('Transpose', [x], { perm });
}

export function mulDims(g: G, a: Value, b: Value): Value {
  return g.op('Mul', [a, b]);
}

export function divDim(g: G, a: Value, b: Value | number): Value {
  return g.op('Div', [a, typeof b === 'number' ? g.constInt64([b]) : b]);
}

export { DataType };
