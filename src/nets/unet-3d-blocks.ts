// The SVD UNet's blocks, diffusers v0.30.3 src/diffusers/models/unets/unet_3d_blocks.py: CrossAttnDownBlockSpatioTemporal,
// DownBlockSpatioTemporal, UNetMidBlockSpatioTemporal, UpBlockSpatioTemporal, CrossAttnUpBlockSpatioTemporal.
// Resnet GroupNorm eps are fixed per class there (not by the UNet's resnet_eps): CrossAttnDown 1e-6,
// Down 1e-5, Mid 1e-5, both Up classes 1e-6.
import type { Value } from '../onnx/builder.ts';
import { downsample2D, upsample2D } from './resnet.ts';
import { spatioTemporalResBlock, type SpatioTemporalResSpec } from './resnet-temporal.ts';
import { transformerSpatioTemporalModel, type TemporalContext } from './transformer-temporal.ts';
import type { G } from './nn.ts';

/** GroupNorm groups of every resnet in these blocks (diffusers' default, not configurable here). */
export const RESNET_GROUPS = 32;

/** A value kept for an up block's skip connection, with its channel count. */
export interface Skip {
  readonly value: Value;
  readonly channels: number;
}

export interface BlockSpec {
  inC: number;
  outC: number;
  /** Time-embedding width (4·C0). */
  tembC: number;
  /** Resnets in the block (down: layers_per_block; up: layers_per_block + 1). */
  layers: number;
}

export interface AttnBlockSpec extends BlockSpec {
  transformerLayers: number;
  heads: number;
  crossDim: number;
}

export interface DownResult {
  readonly out: Value;
  /** Appended to the UNet's skip list in order. */
  readonly skips: Skip[];
}

function resSpec(inC: number, outC: number, tembC: number, eps: number): SpatioTemporalResSpec {
  return {
    inC, outC, tembC, eps, temporalEps: eps, groups: RESNET_GROUPS,
    mergeStrategy: 'learned_with_images', switchSpatialToTemporalMix: false,
  };
}

function transformer(g: G, name: string, x: Value, ctx: TemporalContext, s: AttnBlockSpec): Value {
  if (s.outC % s.heads !== 0) throw new Error(`${g.prefix}.${name}: ${s.outC} channels do not split into ${s.heads} heads`);
  return transformerSpatioTemporalModel(g, name, x, ctx, {
    channels: s.outC, heads: s.heads, dimHead: s.outC / s.heads, layers: s.transformerLayers, crossDim: s.crossDim,
  });
}

/** CrossAttnDownBlockSpatioTemporal: layers × (resnet → transformer), each output a skip; then Downsample2D (a skip too). */
export function crossAttnDownBlockSpatioTemporal(
  g: G, name: string, x: Value, temb: Value, ctx: TemporalContext, s: AttnBlockSpec & { addDownsample: boolean },
): DownResult {
  return g.scope(name, () => {
    const skips: Skip[] = [];
    let h = x;
    for (let i = 0; i < s.layers; i++) {
      h = g.scope('resnets', () => spatioTemporalResBlock(g, String(i), h, temb, ctx.frames, resSpec(i === 0 ? s.inC : s.outC, s.outC, s.tembC, 1e-6)));
      h = g.scope('attentions', () => transformer(g, String(i), h, ctx, s));
      skips.push({ value: h, channels: s.outC });
    }
    if (s.addDownsample) {
      h = g.scope('downsamplers', () => downsample2D(g, '0', h, s.outC));
      skips.push({ value: h, channels: s.outC });
    }
    return { out: h, skips };
  });
}

/** DownBlockSpatioTemporal: layers × resnet (eps 1e-5), each a skip; then Downsample2D if asked. */
export function downBlockSpatioTemporal(
  g: G, name: string, x: Value, temb: Value, frames: Value, s: BlockSpec & { addDownsample: boolean },
): DownResult {
  return g.scope(name, () => {
    const skips: Skip[] = [];
    let h = x;
    for (let i = 0; i < s.layers; i++) {
      h = g.scope('resnets', () => spatioTemporalResBlock(g, String(i), h, temb, frames, resSpec(i === 0 ? s.inC : s.outC, s.outC, s.tembC, 1e-5)));
      skips.push({ value: h, channels: s.outC });
    }
    if (s.addDownsample) {
      h = g.scope('downsamplers', () => downsample2D(g, '0', h, s.outC));
      skips.push({ value: h, channels: s.outC });
    }
    return { out: h, skips };
  });
}

/** UNetMidBlockSpatioTemporal (num_layers 1): resnet → transformer → resnet, eps 1e-5, C → C. */
export function unetMidBlockSpatioTemporal(g: G, name: string, x: Value, temb: Value, ctx: TemporalContext, s: Omit<AttnBlockSpec, 'layers' | 'inC'>): Value {
  return g.scope(name, () => {
    const spec = { ...s, inC: s.outC, layers: 1 };
    let h = g.scope('resnets', () => spatioTemporalResBlock(g, '0', x, temb, ctx.frames, resSpec(s.outC, s.outC, s.tembC, 1e-5)));
    h = g.scope('attentions', () => transformer(g, '0', h, ctx, spec));
    return g.scope('resnets', () => spatioTemporalResBlock(g, '1', h, temb, ctx.frames, resSpec(s.outC, s.outC, s.tembC, 1e-5)));
  });
}

export interface UpSpec {
  /** Channels of x entering the block (prev_output_channel). */
  prevC: number;
  outC: number;
  tembC: number;
  layers: number;
  addUpsample: boolean;
}

/** Pop the last skip (the UNet's list is consumed from its end). */
function pop(g: G, skips: Skip[]): Skip {
  const s = skips.pop();
  if (!s) throw new Error(`${g.prefix}: no skip connection left`);
  return s;
}

/** UpBlockSpatioTemporal: layers × (concat [x, skip] → resnet, eps 1e-6); Upsample2D if asked. */
export function upBlockSpatioTemporal(g: G, name: string, x: Value, skips: Skip[], temb: Value, frames: Value, s: UpSpec): Value {
  return upBlock(g, name, x, skips, temb, frames, s);
}

/** CrossAttnUpBlockSpatioTemporal: layers × (concat [x, skip] → resnet (eps 1e-6) → transformer); Upsample2D if asked. */
export function crossAttnUpBlockSpatioTemporal(
  g: G, name: string, x: Value, skips: Skip[], temb: Value, ctx: TemporalContext, s: UpSpec & Omit<AttnBlockSpec, 'inC' | 'layers'>,
): Value {
  return upBlock(g, name, x, skips, temb, ctx.frames, s, (h, i) =>
    g.scope('attentions', () => transformer(g, String(i), h, ctx, { ...s, inC: s.outC })),
  );
}

function upBlock(
  g: G, name: string, x: Value, skips: Skip[], temb: Value, frames: Value, s: UpSpec,
  after?: (h: Value, i: number) => Value,
): Value {
  return g.scope(name, () => {
    let h = x;
    let c = s.prevC;
    for (let i = 0; i < s.layers; i++) {
      const skip = pop(g, skips);
      // (B·F, c + c_skip, H, W): x first, like torch.cat([hidden_states, res_hidden_states], dim=1)
      h = g.op('Concat', [h, skip.value], { axis: 1 });
      h = g.scope('resnets', () => spatioTemporalResBlock(g, String(i), h, temb, frames, resSpec(c + skip.channels, s.outC, s.tembC, 1e-6)));
      c = s.outC;
      if (after) h = after(h, i);
    }
    if (s.addUpsample) h = g.scope('upsamplers', () => upsample2D(g, '0', h, s.outC));
    return h;
  });
}
