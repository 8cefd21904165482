// diffusers `TransformerSpatioTemporalModel` (transformers/transformer_temporal.py), `BasicTransformerBlock`
// and `TemporalBasicTransformerBlock` (attention.py), v0.30.3, as configured by the SVD UNet: layer_norm
// blocks (eps 1e-5), GEGLU feed-forwards, attention without q/k/v bias, GroupNorm(32, 1e-6) on the input.
import type { Value } from '../onnx/builder.ts';
import { feedForwardGEGLU, selfAttention, singleTokenCrossAttention, unusedByDesign, type AttentionSpec } from './attention.ts';
import { timestepEmbedding, timesteps } from './embeddings.ts';
import { dim, linear, reshape, transpose, type G } from './nn.ts';
import { groupNorm, layerNorm } from './normalization.ts';
import { alphaBlend } from './resnet-temporal.ts';

/** GroupNorm groups and eps of the transformer's input norm (fixed in the class). */
const NORM_GROUPS = 32;
const NORM_EPS = 1e-6;

export interface TransformerSpatioTemporalSpec {
  /** in_channels of the model (= inner dim = heads·dim_head in the SVD UNet). */
  channels: number;
  heads: number;
  dimHead: number;
  /** transformer_layers_per_block. */
  layers: number;
  /** cross_attention_dim. */
  crossDim: number;
}

/** Per-graph values every spatio-temporal transformer needs. */
export interface TemporalContext {
  /** F as int64 [1]. */
  readonly frames: Value;
  /** 0, 1, …, F−1 as float32 [F] (the time_pos_embed positions). */
  readonly frameIndex: Value;
  /** (B·F, 1, D): the encoder state per frame (spatial cross-attention context). */
  readonly encoderHiddenStates: Value;
  /**
   * (B, 1, D): the first frame's encoder state of each video — the temporal blocks' context. diffusers
   * broadcasts it to (B·H·W, 1, D), i.e. one token per (video, position), so the temporal cross-attention
   * also has a single key per query row.
   */
  readonly firstFrameContext: Value;
}

/**
 * TransformerSpatioTemporalModel: x (B·F, C, H, W) → (B·F, C, H, W).
 * h = proj_in(GN(x) as tokens); per layer: h = BasicTransformerBlock(h); m = TemporalBasicTransformerBlock(h +
 * time_pos_embed(frame)); h = α·h + (1−α)·m; out = proj_out(h) as a map + x.
 */
export function transformerSpatioTemporalModel(g: G, name: string, x: Value, ctx: TemporalContext, s: TransformerSpatioTemporalSpec): Value {
  return g.scope(name, () => {
    const C = s.channels;
    const inner = s.heads * s.dimHead;
    if (inner !== C) throw new Error(`${g.prefix}: heads·dim_head = ${inner} must equal the ${C} channels`);
    const H = dim(g, x, 2);
    const W = dim(g, x, 3);
    // (B·F, C, H, W) → (B·F, H·W, C)
    let h = groupNorm(g, 'norm', x, C, NORM_GROUPS, NORM_EPS);
    h = reshape(g, transpose(g, h, [0, 2, 3, 1]), [0, -1, C]);
    h = linear(g, 'proj_in', h, C, inner);
    const S = dim(g, h, 1);

    // (F, C) → (F, 1, C): the same for every video
    const pos = timestepEmbedding(g, 'time_pos_embed', timesteps(g, ctx.frameIndex, C), C, 4 * C, C);
    const pos3 = g.op('Unsqueeze', [pos, g.constInt64([1])]);

    const att: AttentionSpec = { queryDim: inner, heads: s.heads, dimHead: s.dimHead };
    for (let l = 0; l < s.layers; l++) {
      h = g.scope(['transformer_blocks', l], () => basicTransformerBlock(g, h, ctx.encoderHiddenStates, { ...att, crossDim: s.crossDim }));
      // (B·F, S, C) → (B, F, S, C) + pos
      const mix = g.op('Add', [reshape(g, h, [-1, ctx.frames, S, inner]), pos3]);
      const m = g.scope(['temporal_transformer_blocks', l], () =>
        temporalBasicTransformerBlock(g, mix, ctx.firstFrameContext, ctx.frames, S, { ...att, crossDim: s.crossDim }),
      );
      h = alphaBlend(g, 'time_mixer', h, m, { mergeStrategy: 'learned_with_images', switchSpatialToTemporalMix: false });
    }
    h = linear(g, 'proj_out', h, inner, C);
    // (B·F, H·W, C) → (B·F, C, H, W)
    const map = transpose(g, reshape(g, h, [-1, H, W, C]), [0, 3, 1, 2]);
    return g.op('Add', [map, x]);
  });
}

interface BlockSpec extends AttentionSpec {
  crossDim: number;
}

/**
 * BasicTransformerBlock on h (N, S, C) with a one-token context ctx (N, 1, D):
 * h += attn1(LN1(h)); h += attn2(LN2(h), ctx); h += FF(LN3(h)).
 * attn2 over one key does not depend on its query, so LN2 (its query's only producer) is not in the graph.
 */
function basicTransformerBlock(g: G, h: Value, ctx: Value, s: BlockSpec): Value {
  const C = s.queryDim;
  h = g.op('Add', [selfAttention(g, 'attn1', layerNorm(g, 'norm1', h, C), s), h]);
  unusedByDesign(g, 'norm2.weight', [C]);
  unusedByDesign(g, 'norm2.bias', [C]);
  h = g.op('Add', [singleTokenCrossAttention(g, 'attn2', ctx, s), h]);
  return g.op('Add', [feedForwardGEGLU(g, 'ff', layerNorm(g, 'norm3', h, C), C), h]);
}

/**
 * TemporalBasicTransformerBlock: x (B, F, S, C) → (B·F, S, C), attending across the F frames of each
 * (video, position). t = x as (B·S, F, C); t = FF_in(LN_in(t)) + t; t += attn1(LN1(t));
 * t += attn2(LN2(t), first frame's encoder state) (one key: to_out(to_v(ctx)) per video); t += FF(LN3(t)).
 * time_mix_inner_dim = dim in TransformerSpatioTemporalModel, so the residuals (is_res) always apply.
 */
function temporalBasicTransformerBlock(g: G, x: Value, ctxVideo: Value, frames: Value, S: Value, s: BlockSpec): Value {
  const C = s.queryDim;
  // (B, F, S, C) → (B·S, F, C)
  let t = reshape(g, transpose(g, x, [0, 2, 1, 3]), [-1, frames, C]);
  t = g.op('Add', [feedForwardGEGLU(g, 'ff_in', layerNorm(g, 'norm_in', t, C), C, C), t]);
  t = g.op('Add', [selfAttention(g, 'attn1', layerNorm(g, 'norm1', t, C), s), t]);
  unusedByDesign(g, 'norm2.weight', [C]);
  unusedByDesign(g, 'norm2.bias', [C]);
  // (B·S, F, C) → (B, S·F, C) + (B, 1, C)
  let v = g.op('Add', [singleTokenCrossAttention(g, 'attn2', ctxVideo, s), reshape(g, t, [dim(g, ctxVideo, 0), -1, C])]);
  v = g.op('Add', [feedForwardGEGLU(g, 'ff', layerNorm(g, 'norm3', v, C), C), v]);
  // (B, S·F, C) → (B, S, F, C) → (B, F, S, C) → (B·F, S, C)
  const back = transpose(g, reshape(g, v, [0, S, frames, C]), [0, 2, 1, 3]);
  return reshape(g, back, [-1, S, C]);
}
