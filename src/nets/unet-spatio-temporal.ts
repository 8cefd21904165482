// UNetSpatioTemporalConditionControlNeXtModel (dvlab-research/ControlNeXt @ ab4b3ac,
// ControlNeXt-SVD-v2/models/unet_spatio_temporal_condition_controlnext.py): diffusers' SVD UNet
// (UNetSpatioTemporalConditionModel, v0.30.3) plus the ControlNeXt injection after down block 0.
// One graph per variant (with / without control inputs), dynamic batch, frames, height and width.
import type { Precision } from '../core/device.ts';
import { CnextError } from '../core/errors.ts';
import { asFloat32, float32, shapeString, type Float32Tensor } from '../core/tensor.ts';
import type { ControlInput, Unet } from './interfaces.ts';
import { DataType, GraphBuilder, type BuiltModel, type Value } from '../onnx/builder.ts';
import { Session, type SessionOptions } from '../onnx/session.ts';
import type { WeightSource } from '../weights/weight-source.ts';
import { repeatInterleave } from './controlnext-svd.ts';
import { toFloatType, type FloatTensor, type FloatType } from './float16.ts';
import { timestepEmbedding, timesteps } from './embeddings.ts';
import { activationType, conv, dim, reshape, shape, silu, toAct, toF32, type G } from './nn.ts';
import { groupNorm } from './normalization.ts';
import type { TemporalContext } from './transformer-temporal.ts';
import {
  crossAttnDownBlockSpatioTemporal, crossAttnUpBlockSpatioTemporal, downBlockSpatioTemporal, RESNET_GROUPS,
  unetMidBlockSpatioTemporal, upBlockSpatioTemporal, type Skip,
} from './unet-3d-blocks.ts';

/** The class's config.json keys (defaults: the class's own, i.e. SVD img2vid-xt). */
export interface UnetConfig {
  sample_size: number | null;
  in_channels: number;
  out_channels: number;
  down_block_types: readonly string[];
  up_block_types: readonly string[];
  block_out_channels: readonly number[];
  addition_time_embed_dim: number;
  projection_class_embeddings_input_dim: number;
  layers_per_block: number | readonly number[];
  cross_attention_dim: number | readonly number[];
  transformer_layers_per_block: number | readonly number[];
  num_attention_heads: number | readonly number[];
  num_frames: number;
  upcast_attention: boolean;
}

export const UNET_DEFAULT_CONFIG: UnetConfig = {
  sample_size: null,
  in_channels: 8,
  out_channels: 4,
  down_block_types: ['CrossAttnDownBlockSpatioTemporal', 'CrossAttnDownBlockSpatioTemporal', 'CrossAttnDownBlockSpatioTemporal', 'DownBlockSpatioTemporal'],
  up_block_types: ['UpBlockSpatioTemporal', 'CrossAttnUpBlockSpatioTemporal', 'CrossAttnUpBlockSpatioTemporal', 'CrossAttnUpBlockSpatioTemporal'],
  block_out_channels: [320, 640, 1280, 1280],
  addition_time_embed_dim: 256,
  projection_class_embeddings_input_dim: 768,
  layers_per_block: 2,
  cross_attention_dim: 1024,
  transformer_layers_per_block: 1,
  num_attention_heads: [5, 10, 10, 20],
  num_frames: 25,
  upcast_attention: false,
};

const DOWN_TYPES = ['CrossAttnDownBlockSpatioTemporal', 'DownBlockSpatioTemporal'];
const UP_TYPES = ['UpBlockSpatioTemporal', 'CrossAttnUpBlockSpatioTemporal'];
/** conv_norm_out: GroupNorm(32, C0, eps 1e-5), fixed in the class. */
const NORM_OUT_EPS = 1e-5;
/** ControlNeXt: eps on the control std and the injection factor (constants of the reference forward). */
const CONTROL_STD_EPS = 1e-5;
const CONTROL_FACTOR = 0.2;

function configError(message: string): CnextError {
  return new CnextError('CONFIG_INVALID', `UNet config: ${message}`, {
    solutions: ['Check the unet/config.json that came with the weights.'],
  });
}

function positiveInt(name: string, v: unknown): number {
  if (!Number.isInteger(v) || (v as number) < 1) throw configError(`${name} must be a positive integer, got ${JSON.stringify(v)}`);
  return v as number;
}

/** Resolve an int-or-list key to one value per down block (diffusers' isinstance(…, int) expansion). */
function perBlock(name: string, v: unknown, n: number): number[] {
  if (typeof v === 'number') return new Array(n).fill(positiveInt(name, v));
  if (!Array.isArray(v)) throw configError(`${name} must be an integer or a list of integers, got ${JSON.stringify(v)}`);
  if (v.length !== n) {
    throw configError(`${name} has ${v.length} entries (${JSON.stringify(v)}) but down_block_types has ${n}`);
  }
  return v.map((x, i) => {
    if (Array.isArray(x)) throw configError(`${name}[${i}] is a list (${JSON.stringify(x)}); per-layer lists are not supported by this class`);
    return positiveInt(`${name}[${i}]`, x);
  });
}

/** Resolved per-block values (after int → list expansion). */
export interface UnetLayout {
  readonly config: UnetConfig;
  readonly blocks: number;
  readonly channels: readonly number[];
  readonly layers: readonly number[];
  readonly heads: readonly number[];
  readonly crossDims: readonly number[];
  readonly transformerLayers: readonly number[];
  /** Number of added time ids (projection_class_embeddings_input_dim / addition_time_embed_dim). */
  readonly timeIds: number;
}

/**
 * config.json (any extra keys such as `_class_name` are ignored, like diffusers does) → a checked UnetConfig.
 * Every inconsistency is a CONFIG_INVALID error that shows both values.
 */
export function resolveUnetConfig(raw: Record<string, unknown> = {}): UnetConfig {
  const c = { ...UNET_DEFAULT_CONFIG } as Record<string, unknown>;
  for (const key of Object.keys(UNET_DEFAULT_CONFIG)) if (raw[key] !== undefined) c[key] = raw[key];
  const config = c as unknown as UnetConfig;
  unetLayout(config);
  return config;
}

export function unetLayout(config: UnetConfig): UnetLayout {
  const down = config.down_block_types;
  const up = config.up_block_types;
  if (!Array.isArray(down) || !Array.isArray(up)) throw configError('down_block_types and up_block_types must be lists');
  const n = down.length;
  if (n < 1) throw configError('down_block_types is empty');
  if (up.length !== n) {
    throw configError(`down_block_types has ${n} entries (${down.join(', ')}) but up_block_types has ${up.length} (${up.join(', ')})`);
  }
  down.forEach((t, i) => {
    if (!DOWN_TYPES.includes(t)) throw configError(`down_block_types[${i}] = ${t} does not exist (expected one of ${DOWN_TYPES.join(', ')})`);
  });
  up.forEach((t, i) => {
    if (!UP_TYPES.includes(t)) throw configError(`up_block_types[${i}] = ${t} does not exist (expected one of ${UP_TYPES.join(', ')})`);
  });
  if (!Array.isArray(config.block_out_channels) || config.block_out_channels.length !== n) {
    throw configError(`block_out_channels ${JSON.stringify(config.block_out_channels)} must have one entry per down block (${n})`);
  }
  const channels = config.block_out_channels.map((x, i) => positiveInt(`block_out_channels[${i}]`, x));
  const layers = perBlock('layers_per_block', config.layers_per_block, n);
  const heads = perBlock('num_attention_heads', config.num_attention_heads, n);
  const crossDims = perBlock('cross_attention_dim', config.cross_attention_dim, n);
  const transformerLayers = perBlock('transformer_layers_per_block', config.transformer_layers_per_block, n);
  positiveInt('in_channels', config.in_channels);
  positiveInt('out_channels', config.out_channels);
  const addDim = positiveInt('addition_time_embed_dim', config.addition_time_embed_dim);
  const projDim = positiveInt('projection_class_embeddings_input_dim', config.projection_class_embeddings_input_dim);
  if (projDim % addDim !== 0) {
    throw configError(`projection_class_embeddings_input_dim = ${projDim} is not a multiple of addition_time_embed_dim = ${addDim}`);
  }
  channels.forEach((ch, i) => {
    if (ch % RESNET_GROUPS !== 0) throw configError(`block_out_channels[${i}] = ${ch} is not divisible by the ${RESNET_GROUPS} GroupNorm groups`);
    if (ch % heads[i] !== 0) throw configError(`block_out_channels[${i}] = ${ch} is not divisible by num_attention_heads[${i}] = ${heads[i]}`);
  });
  return { config, blocks: n, channels, layers, heads, crossDims, transformerLayers, timeIds: projDim / addDim };
}

export interface BuildUnetOptions {
  /** Build the ControlNeXt variant (inputs control_output, control_scale, pool_h, pool_w). */
  control: boolean;
  /** Also output the intermediate values the fixtures hold (dbg.time_emb, dbg.aug_emb, dbg.down0_out, dbg.down1_in, dbg.mid_out). */
  debug?: boolean;
  /**
   * fp16: float16 weights and activations; `control_output` is float16 (it comes from an fp16 ControlNeXt: half
   * the bytes of the largest input), the other inputs and the output stay float32 and are cast in the graph.
   * fp32 islands: timestep sinusoids, GroupNorm statistics, the ControlNeXt injection. Default fp32.
   */
  precision?: Precision;
}

/**
 * Graph inputs: `sample` [B, F, in, h, w], `timestep` [1], `encoder_hidden_states` [B, 1, D], `added_time_ids`
 * [B, ids]; with control also `control_output` [B·F, C0, hc, wc], `control_scale` [B·F, 1, 1, 1], `pool_h`
 * [h', hc] and `pool_w` [wc, w'] (adaptive-average-pool matrices for the block-0 output size h'×w', see
 * adaptivePoolMatrix). Output `noise_pred` [B, F, out, h, w].
 */
export function buildUnet(weights: WeightSource, config: UnetConfig, options: BuildUnetOptions): BuiltModel {
  const L = unetLayout(config);
  const g = new GraphBuilder(weights, options.control ? 'unet_controlnext' : 'unet', activationType(options.precision));
  const C0 = L.channels[0];
  const T = 4 * C0;
  const D = L.crossDims[0];
  const inC = config.in_channels;
  const sample = g.input('sample', DataType.FLOAT, ['B', 'F', inC, 'h', 'w']);
  const t = g.input('timestep', DataType.FLOAT, [1]);
  const ehs = toAct(g, g.input('encoder_hidden_states', DataType.FLOAT, ['B', 1, D]));
  const ids = g.input('added_time_ids', DataType.FLOAT, ['B', L.timeIds]);
  const dbg = (v: Value, name: string, dims: Array<number | string>) => {
    if (options.debug) g.output(toF32(g, v), `dbg.${name}`, DataType.FLOAT, dims);
  };

  // 1. time: (B, 4·C0) = time_embedding(sinusoid(t)) + add_embedding(concat of sinusoid(id) per id)
  const B = dim(g, sample, 0);
  const F = dim(g, sample, 1);
  const timeEmb = timestepEmbedding(g, 'time_embedding', timesteps(g, g.op('Expand', [t, B]), C0), C0, T);
  const idEmb = reshape(g, timesteps(g, reshape(g, ids, [-1]), config.addition_time_embed_dim), [B, -1]);
  const augEmb = timestepEmbedding(g, 'add_embedding', idEmb, config.projection_class_embeddings_input_dim, T);
  dbg(timeEmb, 'time_emb', ['B', T]);
  dbg(augEmb, 'aug_emb', ['B', T]);
  // (B·F, 4·C0), rows b·F + f
  const emb = repeatInterleave(g, g.op('Add', [timeEmb, augEmb]), F, T);

  const ehsFrames = reshape(g, g.op('Expand', [g.op('Unsqueeze', [ehs, g.constInt64([1])]), shape(g, [B, F, 1, D])]), [-1, 1, D]);
  const Ff = g.op('Cast', [g.op('Squeeze', [F, g.constInt64([0])])], { to: DataType.FLOAT });
  const ctx: TemporalContext = {
    frames: F,
    frameIndex: g.op('Range', [g.scalarFloat(0), Ff, g.scalarFloat(1)]),
    encoderHiddenStates: ehsFrames,
    // frames of a video share one encoder state, so the first frame's is the video's own
    firstFrameContext: ehs,
  };

  // 2. conv_in on (B·F, in, h, w)
  let x = conv(g, 'conv_in', toAct(g, reshape(g, sample, [-1, inC, dim(g, sample, 3), dim(g, sample, 4)])), { inC, outC: C0, kernel: 3, pad: 1 });
  const skips: Skip[] = [{ value: x, channels: C0 }];

  // 3. down blocks (+ 4. the control after block 0)
  for (let i = 0; i < L.blocks; i++) {
    const spec = {
      inC: i === 0 ? C0 : L.channels[i - 1], outC: L.channels[i], tembC: T, layers: L.layers[i],
      addDownsample: i < L.blocks - 1,
    };
    const r = g.scope('down_blocks', () =>
      config.down_block_types[i] === 'CrossAttnDownBlockSpatioTemporal'
        ? crossAttnDownBlockSpatioTemporal(g, String(i), x, emb, ctx, { ...spec, transformerLayers: L.transformerLayers[i], heads: L.heads[i], crossDim: L.crossDims[i] })
        : downBlockSpatioTemporal(g, String(i), x, emb, F, spec),
    );
    x = r.out;
    skips.push(...r.skips);
    if (i === 0) {
      dbg(x, 'down0_out', ['BF', C0, 'h0', 'w0']);
      if (options.control) {
        x = injectControl(g, x, {
          output: g.input('control_output', g.float, ['BF', C0, 'hc', 'wc']),
          scale: g.input('control_scale', DataType.FLOAT, ['BF', 1, 1, 1]),
          poolH: g.input('pool_h', DataType.FLOAT, ['h0', 'hc']),
          poolW: g.input('pool_w', DataType.FLOAT, ['wc', 'w0']),
        });
        dbg(x, 'down1_in', ['BF', C0, 'h0', 'w0']);
      }
    }
  }

  // 5. mid
  const last = L.blocks - 1;
  x = unetMidBlockSpatioTemporal(g, 'mid_block', x, emb, ctx, {
    outC: L.channels[last], tembC: T, transformerLayers: L.transformerLayers[last], heads: L.heads[last], crossDim: L.crossDims[last],
  });
  dbg(x, 'mid_out', ['BF', L.channels[last], 'hm', 'wm']);

  // 6. up blocks, reversed channels; layers + 1 resnets each, Upsample2D on all but the last
  let prevC = L.channels[last];
  for (let i = 0; i < L.blocks; i++) {
    const r = last - i;
    const spec = { prevC, outC: L.channels[r], tembC: T, layers: L.layers[r] + 1, addUpsample: i < last };
    x = g.scope('up_blocks', () =>
      config.up_block_types[i] === 'CrossAttnUpBlockSpatioTemporal'
        ? crossAttnUpBlockSpatioTemporal(g, String(i), x, skips, emb, ctx, { ...spec, transformerLayers: L.transformerLayers[r], heads: L.heads[r], crossDim: L.crossDims[r] })
        : upBlockSpatioTemporal(g, String(i), x, skips, emb, F, spec),
    );
    prevC = L.channels[r];
  }
  if (skips.length) throw configError(`${skips.length} skip connections are left over after the up blocks (layers_per_block ${JSON.stringify(L.layers)})`);

  // 7. out: GN → SiLU → conv_out → (B, F, out, h, w)
  x = silu(g, groupNorm(g, 'conv_norm_out', x, C0, RESNET_GROUPS, NORM_OUT_EPS));
  x = conv(g, 'conv_out', x, { inC: C0, outC: config.out_channels, kernel: 3, pad: 1 });
  x = reshape(g, x, [B, F, config.out_channels, dim(g, x, 2), dim(g, x, 3)]);
  g.output(toF32(g, x), 'noise_pred', DataType.FLOAT, ['B', 'F', config.out_channels, 'h', 'w']);
  weights.assertAllUsed();
  return g.build({ network: 'UNetSpatioTemporalConditionControlNeXtModel', control: String(options.control) });
}

interface ControlValues {
  output: Value;
  scale: Value;
  poolH: Value;
  poolW: Value;
}

/**
 * x (B·F, C0, h', w') + adaptive_avg_pool(c')·scale·0.2 with c' = (c − mean c)·(std x / (std c + 1e-5)) + mean x,
 * mean and unbiased std per row over (C, H, W); the pool is pool_h · c' · pool_w. In fp16 graphs all of it is an
 * fp32 island (means and stds over 10⁵–10⁶ values per row, a ratio of stds), cast back once at the end.
 */
function injectControl(g: G, xAct: Value, c: ControlValues): Value {
  return g.scope('controlnext_injection', () => {
    const x = toF32(g, xAct);
    const sx = rowStats(g, x);
    const sc = rowStats(g, toF32(g, c.output));
    const ratio = g.op('Div', [sx.std, g.op('Add', [sc.std, g.scalarFloat(CONTROL_STD_EPS)])]);
    const normed = g.op('Add', [g.op('Mul', [sc.centered, ratio]), sx.mean]);
    // (h', hc) · (B·F, C0, hc, wc) · (wc, w') → (B·F, C0, h', w')
    const pooled = g.op('MatMul', [g.op('MatMul', [c.poolH, normed]), c.poolW]);
    const added = g.op('Mul', [g.op('Mul', [pooled, c.scale]), g.scalarFloat(CONTROL_FACTOR)]);
    return toAct(g, g.op('Add', [x, added]));
  });
}

/** Per-row mean, centred values and unbiased (N−1) std of v (N, C, H, W) over (C, H, W); stats (N, 1, 1, 1). */
function rowStats(g: G, v: Value): { mean: Value; centered: Value; std: Value } {
  const axes = g.constInt64([1, 2, 3]);
  const mean = g.op('ReduceMean', [v, axes], { keepdims: 1 });
  const centered = g.op('Sub', [v, mean]);
  const ss = g.op('ReduceSumSquare', [centered, axes], { keepdims: 1 });
  const n = g.op('ReduceProd', [g.op('Cast', [g.op('Shape', [v], { start: 1 })], { to: DataType.FLOAT })], { keepdims: 0 });
  const std = g.op('Sqrt', [g.op('Div', [ss, g.op('Sub', [n, g.scalarFloat(1)])])]);
  return { mean, centered, std };
}

/**
 * torch adaptive_avg_pool over one axis as a matrix [outSize, inSize]: row i averages inputs
 * ⌊i·in/out⌋ … ⌈(i+1)·in/out⌉ − 1 (uneven, possibly overlapping windows; also upsamples).
 */
export function adaptivePoolMatrix(inSize: number, outSize: number): Float32Array {
  const m = new Float32Array(outSize * inSize);
  for (let i = 0; i < outSize; i++) {
    const start = Math.floor((i * inSize) / outSize);
    const end = Math.ceil(((i + 1) * inSize) / outSize);
    for (let j = start; j < end; j++) m[i * inSize + j] = 1 / (end - start);
  }
  return m;
}

function transposeMatrix(m: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(m.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = m[r * cols + c];
  return t;
}

/** Spatial size after down block 0 (its 3×3 stride-2 pad-1 downsampler, when the UNet has more than one level). */
export function block0Size(config: UnetConfig, h: number, w: number): [number, number] {
  if (config.down_block_types.length < 2) return [h, w];
  return [Math.floor((h - 1) / 2) + 1, Math.floor((w - 1) / 2) + 1];
}

function inputError(message: string): CnextError {
  return new CnextError('INVALID_INPUT', `UNet: ${message}`);
}

/** Check the call's tensors against the config and each other; returns B, F, h, w. */
export function checkUnetInputs(
  L: UnetLayout, sample: Float32Tensor, encoderHiddenStates: Float32Tensor, addedTimeIds: Float32Tensor, control?: ControlInput,
): { B: number; F: number; h: number; w: number } {
  const c = L.config;
  if (sample.dims.length !== 5 || sample.dims[2] !== c.in_channels) {
    throw inputError(`sample must be [B, F, ${c.in_channels}, h, w] (in_channels ${c.in_channels}), got ${shapeString(sample.dims)}`);
  }
  const [B, F, , h, w] = sample.dims;
  const m = 2 ** (L.blocks - 1);
  if (h % m !== 0 || w % m !== 0) throw inputError(`latent size ${h}×${w} must be divisible by ${m} (2^(levels − 1)), got sample ${shapeString(sample.dims)}`);
  const D = L.crossDims[0];
  if (L.crossDims.some((d) => d !== D)) throw inputError(`per-block cross_attention_dim ${JSON.stringify(L.crossDims)} differ, but all blocks share one encoder_hidden_states`);
  const e = encoderHiddenStates.dims;
  if (e.length !== 3 || e[0] !== B || e[2] !== D) throw inputError(`encoder_hidden_states must be [${B}, 1, ${D}], got ${shapeString(e)}`);
  if (e[1] !== 1) {
    throw inputError(`encoder_hidden_states must hold one token per video (the CLIP image embedding, [${B}, 1, ${D}]), got ${shapeString(e)}; the cross-attention here is built for a single context token`);
  }
  const a = addedTimeIds.dims;
  if (a.length !== 2 || a[0] !== B || a[1] !== L.timeIds) throw inputError(`added_time_ids must be [${B}, ${L.timeIds}], got ${shapeString(a)}`);
  if (control) {
    const o = control.output.dims;
    const C0 = L.channels[0];
    if (o.length !== 4 || o[0] !== B * F || o[1] !== C0) throw inputError(`control output must be [${B * F}, ${C0}, hc, wc] (B·F rows, block_out_channels[0] channels), got ${shapeString(o)}`);
    const s = control.scale.dims;
    const n = s.reduce((p, d) => p * d, 1);
    const okShape = (s.length === 1 || (s.length === 4 && s[1] === 1 && s[2] === 1 && s[3] === 1)) && s[0] === B * F;
    if (!okShape || n !== B * F) throw inputError(`control scale must be [${B * F}] or [${B * F}, 1, 1, 1], got ${shapeString(s)}`);
  }
  return { B, F, h, w };
}

export interface UnetLoadOptions extends SessionOptions {
  /** The graph's precision (BuildUnetOptions.precision); default fp32. */
  readonly precision?: Precision;
  /**
   * Which graph variant's session to create at load: 'control' (default; the pipeline passes control on every
   * step, scale 0 for the unconditional half) or 'plain' (a caller that never passes control). The other one
   * is created on its first call, after which both are held until release().
   */
  preload?: 'control' | 'plain';
}

/** A UNet on ONNX Runtime, one session per graph variant (with / without the ControlNeXt inputs). */
export async function loadUnet(weights: WeightSource, config: UnetConfig, options: UnetLoadOptions = {}): Promise<Unet> {
  const L = unetLayout(config);
  const { preload = 'control', ...sessionOptions } = options;
  const controlType: FloatType = options.precision === 'fp16' ? 'float16' : 'float32';
  const sessions = new Map<boolean, Promise<Session>>();
  const session = (control: boolean): Promise<Session> => {
    let s = sessions.get(control);
    if (!s) {
      s = Session.create(buildUnet(weights, config, { control, precision: options.precision }), { label: 'UNet', ...sessionOptions });
      sessions.set(control, s);
    }
    return s;
  };
  await session(preload === 'control');
  return {
    async run(sample, timestep, encoderHiddenStates, addedTimeIds, control) {
      const { h, w } = checkUnetInputs(L, sample, encoderHiddenStates, addedTimeIds, control);
      const feeds: Record<string, FloatTensor> = {
        sample,
        timestep: float32([1], Float32Array.of(timestep)),
        encoder_hidden_states: encoderHiddenStates,
        added_time_ids: addedTimeIds,
      };
      if (control) {
        const [h0, w0] = block0Size(config, h, w);
        const [, , hc, wc] = control.output.dims;
        feeds.control_output = toFloatType(control.output, controlType);
        feeds.control_scale = float32([control.scale.dims[0], 1, 1, 1], control.scale.data);
        feeds.pool_h = float32([h0, hc], adaptivePoolMatrix(hc, h0));
        feeds.pool_w = float32([wc, w0], transposeMatrix(adaptivePoolMatrix(wc, w0), w0, wc));
      }
      const out = await (await session(control !== undefined)).run(feeds);
      return asFloat32(out.noise_pred, 'UNet output');
    },
    async release() {
      const all = [...sessions.values()];
      sessions.clear();
      for (const s of all) await (await s).release();
    },
  };
}
