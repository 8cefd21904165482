// diffusers `TemporalResnetBlock`, `SpatioTemporalResBlock` and `AlphaBlender` (src/diffusers/models/resnet.py,
// v0.30.3). Shared by the UNet (time embedding, merge "learned_with_images", α·spatial) and the VAE decoder
// (no time embedding, merge "learned" with switch_spatial_to_temporal_mix, (1−α)·spatial).
import { DataType, type Value } from '../onnx/builder.ts';
import { conv, dim, linear, reshape, silu, toAct, transpose, type G } from './nn.ts';
import { groupNorm } from './normalization.ts';
import { resnetBlock2D } from './resnet.ts';

export type MergeStrategy = 'learned_with_images' | 'learned';

export interface AlphaBlendSpec {
  /**
   * "learned_with_images" takes α = 1 where image_only_indicator is 1; the SVD pipeline always passes an
   * all-zero indicator, so both strategies reduce to α = sigmoid(mix_factor). ("fixed" is unused by SVD.)
   */
  mergeStrategy: MergeStrategy;
  /** VAE decoder: α ← 1 − α, i.e. out = (1−σ)·spatial + σ·temporal. */
  switchSpatialToTemporalMix: boolean;
}

/** AlphaBlender at scope `name` (parameter `mix_factor` [1]): out = α·spatial + (1−α)·temporal. Same shapes. */
export function alphaBlend(g: G, name: string, spatial: Value, temporal: Value, spec: AlphaBlendSpec): Value {
  return g.scope(name, () => {
    // the blend factors from the scalar weight in float32, then in the activations' format: constant-folded at
    // session creation (ORT folds on its CPU kernels, which have no fp16 Sigmoid)
    let alpha = g.op('Sigmoid', [g.param('mix_factor', [1], DataType.FLOAT)]);
    const one = g.scalarFloat(1);
    if (spec.switchSpatialToTemporalMix) alpha = g.op('Sub', [one, alpha]);
    const beta = g.op('Sub', [one, alpha]);
    return g.op('Add', [g.op('Mul', [toAct(g, alpha), spatial]), g.op('Mul', [toAct(g, beta), temporal])]);
  });
}

export interface TemporalResnetSpec {
  inC: number;
  outC: number;
  /** Width of the time embedding (`time_emb_proj`); absent in the VAE decoder. */
  tembC?: number;
  groups: number;
  eps: number;
}

/**
 * TemporalResnetBlock on x (B, C, F, H, W): ResnetBlock2D's structure with 3-D convs of kernel (3,1,1)
 * (zero padding 1 along time), GroupNorm statistics over all frames of a video, and the time embedding
 * temb (B·F, T) projected per frame and added as (B, C, F, 1, 1).
 */
export function temporalResnetBlock(g: G, name: string, x: Value, temb: Value | undefined, frames: Value, s: TemporalResnetSpec): Value {
  return g.scope(name, () => {
    const k3 = { kernel: [3, 1, 1], pad: [1, 0, 0] };
    let h = groupNorm(g, 'norm1', x, s.inC, s.groups, s.eps, 5);
    h = conv(g, 'conv1', silu(g, h), { inC: s.inC, outC: s.outC, ...k3 });
    if (s.tembC !== undefined && temb) {
      // (B·F, T) → (B·F, C) → (B, F, C) → (B, C, F) → (B, C, F, 1, 1)
      const t = linear(g, 'time_emb_proj', silu(g, temb), s.tembC, s.outC);
      const tb = transpose(g, reshape(g, t, [-1, frames, s.outC]), [0, 2, 1]);
      h = g.op('Add', [h, g.op('Unsqueeze', [tb, g.constInt64([3, 4])])]);
    }
    h = groupNorm(g, 'norm2', h, s.outC, s.groups, s.eps, 5);
    h = conv(g, 'conv2', silu(g, h), { inC: s.outC, outC: s.outC, ...k3 });
    // diffusers: use_in_shortcut = in_channels != out_channels
    const shortcut = s.inC !== s.outC
      ? conv(g, 'conv_shortcut', x, { inC: s.inC, outC: s.outC, kernel: [1, 1, 1] })
      : x;
    return g.op('Add', [shortcut, h]);
  });
}

export interface SpatioTemporalResSpec extends AlphaBlendSpec {
  inC: number;
  outC: number;
  /** Time-embedding width; absent (and temb undefined) in the VAE decoder. */
  tembC?: number;
  /** GroupNorm eps of the spatial ResnetBlock2D. */
  eps: number;
  /** GroupNorm eps of the TemporalResnetBlock (diffusers: temporal_eps ?? eps). */
  temporalEps: number;
  /** GroupNorm groups of both parts (32 in diffusers). */
  groups: number;
}

/**
 * SpatioTemporalResBlock: x (B·F, inC, H, W), temb (B·F, T) or undefined, frames F as int64 [1]
 * → (B·F, outC, H, W). s = spatial_res_block(x, temb) per frame; t = temporal_res_block(s viewed as
 * (B, C, F, H, W), temb); out = time_mixer(s, t).
 */
export function spatioTemporalResBlock(
  g: G,
  name: string,
  x: Value,
  temb: Value | undefined,
  frames: Value,
  s: SpatioTemporalResSpec,
): Value {
  return g.scope(name, () => {
    // (B·F, C, H, W)
    const spatial = resnetBlock2D(g, 'spatial_res_block', x, temb, { inC: s.inC, outC: s.outC, tembC: s.tembC, groups: s.groups, eps: s.eps });
    const H = dim(g, spatial, 2);
    const W = dim(g, spatial, 3);
    // (B, C, F, H, W)
    const video = transpose(g, reshape(g, spatial, [-1, frames, s.outC, H, W]), [0, 2, 1, 3, 4]);
    const temporal5 = temporalResnetBlock(g, 'temporal_res_block', video, temb, frames, {
      inC: s.outC, outC: s.outC, tembC: s.tembC, groups: s.groups, eps: s.temporalEps,
    });
    // back to (B·F, C, H, W) and blend there (the spatial value is already in that layout)
    const temporal = reshape(g, transpose(g, temporal5, [0, 2, 1, 3, 4]), [-1, s.outC, H, W]);
    return alphaBlend(g, 'time_mixer', spatial, temporal, s);
  });
}
