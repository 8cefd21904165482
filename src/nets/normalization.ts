// GroupNorm and LayerNorm. GroupNorm is Reshape → InstanceNormalization → Reshape → per-channel affine:
// measured faster than GroupNormalization-21 on CPU (DESIGN.md), and exact.
import type { Value } from '../onnx/builder.ts';
import { reshape, toAct, toF32, type G } from './nn.ts';

/**
 * torch.nn.GroupNorm(groups, channels, eps) over x [N, C, ...] of the given rank; statistics per
 * (sample, group) over all remaining axes — so a [B, C, F, H, W] input gives the temporal blocks'
 * all-frames statistics.
 */
export function groupNorm(g: G, name: string, x: Value, channels: number, groups: number, eps: number, rank = 4): Value {
  return g.scope(name, () => {
    if (channels % groups !== 0) throw new Error(`${g.prefix}: ${channels} channels do not split into ${groups} groups`);
    // fp16 graphs: an fp32 island for the statistics (sums over up to ~10⁷ values), the affine in fp16
    const grouped = reshape(g, toF32(g, x), [0, groups, -1]);
    const ones = g.constFloat(new Array(groups).fill(1));
    const zeros = g.constFloat(new Array(groups).fill(0));
    const normed = g.op('InstanceNormalization', [grouped, ones, zeros], { epsilon: eps });
    const back = toAct(g, g.op('Reshape', [normed, g.op('Shape', [x])]));
    // [C] affine parameters broadcast over [N, C, 1, …]: a reshape of a 1-D parameter, no copy of note.
    const affineShape = g.constInt64([channels, ...new Array(rank - 2).fill(1)]);
    const w = g.op('Reshape', [g.param('weight', [channels]), affineShape]);
    const b = g.op('Reshape', [g.param('bias', [channels]), affineShape]);
    return g.op('Add', [g.op('Mul', [back, w]), b]);
  });
}

/**
 * torch.nn.LayerNorm over the last axis. In fp16 graphs one fp16 node: LayerNormalization's stash_type (default 1)
 * makes the kernel compute mean and variance in float32 — the fp32 island is inside the op.
 */
export function layerNorm(g: G, name: string, x: Value, channels: number, eps = 1e-5): Value {
  return g.scope(name, () =>
    g.op('LayerNormalization', [x, g.param('weight', [channels]), g.param('bias', [channels])], { axis: -1, epsilon: eps }),
  );
}
