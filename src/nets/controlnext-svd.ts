// ControlNeXtSDVModel, the ControlNeXt-SVD-v2 control branch
// (dvlab-research/ControlNeXt @ ab4b3ac, ControlNeXt-SVD-v2/models/controlnext_vid_svd.py).
// Pose frames [B, F, 3, H, W] in [0,1] and a timestep → features [B·F, C0, h', w'] that the UNet
// cross-normalises and adds after its first down block.
import { CnextError } from '../core/errors.ts';
import type { Precision } from '../core/device.ts';
import { float32 } from '../core/tensor.ts';
import { asFloat, toFloat32, toFloatType, type FloatTensor, type FloatType } from './float16.ts';
import type { ControlNeXt } from './interfaces.ts';
import { DataType, GraphBuilder, type BuiltModel, type Value } from '../onnx/builder.ts';
import { Session } from '../onnx/session.ts';
import type { WeightSource } from '../weights/weight-source.ts';
import { timestepEmbedding, timesteps } from './embeddings.ts';
import { activationType, conv, dim, relu, reshape, shape, type G, type NetOptions } from './nn.ts';
import { groupNorm } from './normalization.ts';
import { downsample2D, resnetBlock2D } from './resnet.ts';

/** The class's config.json keys (its defaults are the real ControlNeXt-SVD-v2 model). */
export interface ControlNeXtConfig {
  time_embed_dim: number;
  in_channels: readonly number[];
  out_channels: readonly number[];
  groups: readonly number[];
}

export const CONTROLNEXT_DEFAULT_CONFIG: ControlNeXtConfig = {
  time_embed_dim: 256,
  in_channels: [128, 128],
  out_channels: [128, 256],
  groups: [4, 8],
};

/** The model's `scale` output: a constant 1.0 in the class (not learned); the pipeline multiplies it per row. */
export const CONTROLNEXT_SCALE = 1.0;

/** Sinusoid width of `time_proj` (fixed in the class: Timesteps(128)). */
const TIME_PROJ_DIM = 128;
/** GroupNorm groups fixed in the class: the stem uses 2, the mid convs 8. */
const STEM_GROUPS = 2;
const MID_GROUPS = 8;

export function resolveControlNeXtConfig(raw: Partial<ControlNeXtConfig> = {}): ControlNeXtConfig {
  const c = { ...CONTROLNEXT_DEFAULT_CONFIG, ...raw };
  const n = c.in_channels.length;
  if (c.out_channels.length !== n || c.groups.length !== n) {
    throw new CnextError(
      'CONFIG_INVALID',
      `ControlNeXt config: in_channels (${n}), out_channels (${c.out_channels.length}) and groups (${c.groups.length}) must have the same length`,
    );
  }
  return c;
}

/** Output channels C0 of the final 1×1 conv, read from the weight (320 in the real model). */
export function controlNeXtOutChannels(weights: WeightSource): number {
  const w = weights.peek('mid_convs.1.weight');
  if (!w) throw new CnextError('WEIGHT_MISSING', `Weight mid_convs.1.weight is missing from ${weights.origin}`);
  return w.shape[0];
}

/**
 * Which part of the model a graph computes. The stem (`embedding`: three conv → GroupNorm → ReLU) does not depend
 * on the timestep — upstream adds the time embedding first in `down_res` — so the sampler computes it once per frame
 * per job and runs only the head per step; `run(s, t)` is exactly `head(stem(s), t)` (same ops, same order).
 * - `full`: `sample` [B, F, 3, H, W], `timestep` [1] → `output` [B·F, C0, h', w']
 * - `stem`: `sample` [B, F, 3, H, W] → `stem` [B, F, Cs, hs, ws]
 * - `head`: `stem` [B, F, Cs, hs, ws], `timestep` [1] → `output` [B·F, C0, h', w']
 */
export type ControlNeXtPart = 'full' | 'stem' | 'head';

/**
 * Graph of one part of the model (see ControlNeXtPart). `sample`, `stem` and `output` are in the activations'
 * format (float16 for fp16: the pose frames are exact-enough fp16 values and the features go to the UNet as they
 * are); `timestep` is float32 (sinusoids in fp32).
 */
export function buildControlNeXt(weights: WeightSource, config: ControlNeXtConfig, part: ControlNeXtPart = 'full', precision: Precision = 'fp32'): BuiltModel {
  const g = new GraphBuilder(weights, part === 'full' ? 'controlnext' : `controlnext_${part}`, activationType(precision));
  const D = config.time_embed_dim;
  const stemOut = g.scope('embedding', () => g.weightShape('6.weight')?.[0]) ?? 128;

  let x: Value;
  let B: Value;
  let F: Value;
  if (part === 'head') {
    const features = g.input('stem', g.float, ['B', 'F', stemOut, 'hs', 'ws']);
    B = dim(g, features, 0);
    F = dim(g, features, 1);
    x = reshape(g, features, [-1, stemOut, dim(g, features, 3), dim(g, features, 4)]);
  } else {
    const sample = g.input('sample', g.float, ['B', 'F', 3, 'H', 'W']);
    B = dim(g, sample, 0);
    F = dim(g, sample, 1);
    // (B·F, 3, H, W)
    x = stem(g, reshape(g, sample, [-1, 3, dim(g, sample, 3), dim(g, sample, 4)]));
    if (part === 'stem') {
      g.output(reshape(g, x, [B, F, stemOut, dim(g, x, 2), dim(g, x, 3)]), 'stem', g.float, ['B', 'F', stemOut, 'hs', 'ws']);
      weights.assertAllUsed((name) => !name.startsWith('embedding.'));
      return g.build({ network: 'ControlNeXtSDVModel', part });
    }
  }

  // (B) → (B, D), then repeat_interleave over frames → (B·F, D)
  const t = g.input('timestep', DataType.FLOAT, [1]);
  const tB = g.op('Expand', [t, B]);
  const embBatch = timestepEmbedding(g, 'time_embedding', timesteps(g, tB, TIME_PROJ_DIM), TIME_PROJ_DIM, D);
  const emb = repeatInterleave(g, embBatch, F, D);

  let c = stemOut;
  config.in_channels.forEach((inC, i) => {
    if (inC !== c) {
      throw new CnextError('CONFIG_INVALID', `ControlNeXt config: in_channels[${i}] = ${inC} but the previous layer gives ${c} channels`);
    }
    const outC = config.out_channels[i];
    x = g.scope('down_res', () => resnetBlock2D(g, String(i), x, emb, { inC, outC, tembC: D, groups: config.groups[i], eps: 1e-6 }));
    x = g.scope('down_sample', () => downsample2D(g, String(i), x, outC));
    c = outC;
  });

  x = g.scope('mid_convs', () => {
    const m = g.scope('0', () => {
      let h = conv(g, '0', x, { inC: c, outC: c, kernel: 3, pad: 1 });
      h = groupNorm(g, '2', relu(g, h), c, MID_GROUPS, 1e-5);
      h = conv(g, '3', h, { inC: c, outC: c, kernel: 3, pad: 1 });
      return groupNorm(g, '4', h, c, MID_GROUPS, 1e-5);
    });
    const sum = g.op('Add', [m, x]);
    return conv(g, '1', sum, { inC: c, outC: controlNeXtOutChannels(weights), kernel: 1 });
  });
  g.output(x, 'output', g.float, ['BF', controlNeXtOutChannels(weights), 'h', 'w']);
  weights.assertAllUsed(part === 'head' ? (name) => name.startsWith('embedding.') : undefined);
  return g.build({ network: 'ControlNeXtSDVModel', part });
}

/** conv(3→64, s2 p1) → GN(2) → ReLU → conv(64→64, p0) → GN(2) → ReLU → conv(64→128, p0) → GN(2) → ReLU. */
function stem(g: G, input: Value): Value {
  return g.scope('embedding', () => {
    let x = input;
    let inC = 3;
    for (const [i, stride, pad] of [[0, 2, 1], [3, 1, 0], [6, 1, 0]] as const) {
      const outC = g.weightShape(`${i}.weight`)?.[0];
      if (outC === undefined) throw new CnextError('WEIGHT_MISSING', `Weight embedding.${i}.weight is missing from ${g.weights?.origin}`);
      x = conv(g, String(i), x, { inC, outC, kernel: 3, stride, pad });
      x = relu(g, groupNorm(g, String(i + 1), x, outC, STEM_GROUPS, 1e-5));
      inC = outC;
    }
    return x;
  });
}

/** (B, D) → (B·F, D), rows b·F + f (torch repeat_interleave on dim 0). */
export function repeatInterleave(g: G, x: Value, frames: Value, width: number): Value {
  const expanded = g.op('Expand', [g.op('Unsqueeze', [x, g.constInt64([1])]), shape(g, [dim(g, x, 0), frames, width])]);
  return reshape(g, expanded, [-1, width]);
}

/**
 * A ControlNeXt on two ONNX Runtime sessions: the stem and the head (run = head ∘ stem). Both are created at load
 * (so a bad model fails early); `releaseStem()` frees the stem's session — its memory arena is as large as its
 * activations — once the caller holds every stem it needs, and a later stem() creates it again.
 */
export async function loadControlNeXt(weights: WeightSource, config: ControlNeXtConfig, options: NetOptions = {}): Promise<ControlNeXt> {
  const io: FloatType = options.precision === 'fp16' ? 'float16' : 'float32';
  const createStem = () => Session.create(buildControlNeXt(weights, config, 'stem', options.precision), { label: 'ControlNeXt stem', ...options });
  let stemSession: Promise<Session> | undefined = Promise.resolve(await createStem());
  let headSession: Session;
  try {
    headSession = await Session.create(buildControlNeXt(weights, config, 'head', options.precision), { label: 'ControlNeXt', ...options });
  } catch (e) {
    await (await stemSession).release();
    throw e;
  }
  const releaseStem = async () => {
    const s = stemSession;
    stemSession = undefined;
    if (s) await (await s).release();
  };
  const stem = async (sample: FloatTensor) => {
    stemSession ??= createStem();
    const out = await (await stemSession).run({ sample: toFloatType(sample, io) });
    return asFloat(out.stem, io, 'ControlNeXt stem output');
  };
  const head = async (features: FloatTensor, timestep: number) => {
    const out = await headSession.run({ stem: toFloatType(features, io), timestep: float32([1], Float32Array.of(timestep)) });
    return asFloat(out.output, io, 'ControlNeXt output');
  };
  return {
    io,
    run: async (sample, timestep) => toFloat32(await head(await stem(sample), timestep)),
    stem,
    head,
    releaseStem,
    async release() {
      await releaseStem();
      await headSession.release();
    },
  };
}
