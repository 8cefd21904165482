// transformers `CLIPVisionModelWithProjection` (models/clip/modeling_clip.py @ d6751d9, = v4.44): SVD's image
// encoder. pixel_values [B,3,S,S] (CLIP-normalised) → image_embeds [B, projection_dim].
import { CnextError } from '../core/errors.ts';
import type { Precision } from '../core/device.ts';
import { asFloat32, type Float32Tensor } from '../core/tensor.ts';
import type { ImageEncoder } from './interfaces.ts';
import { DataType, GraphBuilder, MS_DOMAIN, type BuiltModel, type Value } from '../onnx/builder.ts';
import { Session } from '../onnx/session.ts';
import type { WeightSource } from '../weights/weight-source.ts';
import { activationType, conv, dim, gelu, linear, reshape, toAct, toF32, transpose, type G, type NetOptions } from './nn.ts';
import { layerNorm } from './normalization.ts';

/** config.json keys of CLIPVisionConfig that shape the graph. */
export interface ClipVisionConfig {
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_channels: number;
  patch_size: number;
  image_size: number;
  projection_dim: number;
  hidden_act: 'gelu' | 'quick_gelu';
  layer_norm_eps: number;
}

const DEFAULTS: ClipVisionConfig = {
  hidden_size: 768, intermediate_size: 3072, num_hidden_layers: 12, num_attention_heads: 12, num_channels: 3,
  patch_size: 32, image_size: 224, projection_dim: 512, hidden_act: 'quick_gelu', layer_norm_eps: 1e-5,
};

export function resolveClipVisionConfig(raw: Record<string, unknown>): ClipVisionConfig {
  const c = { ...DEFAULTS, ...(raw as Partial<ClipVisionConfig>) };
  if (c.hidden_size % c.num_attention_heads !== 0) {
    throw new CnextError('CONFIG_INVALID', `CLIP config: hidden_size ${c.hidden_size} is not divisible by num_attention_heads ${c.num_attention_heads}`);
  }
  if (c.image_size % c.patch_size !== 0) {
    throw new CnextError('CONFIG_INVALID', `CLIP config: image_size ${c.image_size} is not a multiple of patch_size ${c.patch_size}`);
  }
  if (c.hidden_act !== 'gelu' && c.hidden_act !== 'quick_gelu') {
    throw new CnextError('CONFIG_INVALID', `CLIP config: hidden_act '${String(c.hidden_act)}' is not supported (expected gelu or quick_gelu)`);
  }
  return c;
}

/** Graph: input `pixel_values` [B, C, S, S]; outputs `image_embeds` [B, P] and `last_hidden_state` [B, N+1, D]. */
export function buildClipVision(weights: WeightSource, c: ClipVisionConfig, precision: Precision = 'fp32'): BuiltModel {
  const g = new GraphBuilder(weights, 'clip_vision', activationType(precision));
  const D = c.hidden_size;
  const patches = (c.image_size / c.patch_size) ** 2;
  const pixels = g.input('pixel_values', DataType.FLOAT, ['B', c.num_channels, c.image_size, c.image_size]);

  const last = g.scope('vision_model', () => {
    let h = embeddings(g, toAct(g, pixels), c, patches);
    h = layerNorm(g, 'pre_layrnorm', h, D, c.layer_norm_eps);
    for (let i = 0; i < c.num_hidden_layers; i++) h = g.scope(['encoder', 'layers', i], () => encoderLayer(g, h, c));
    return h;
  });
  // (B, N+1, D) → CLS token (B, D) → post_layernorm → visual_projection
  const cls = g.op('Gather', [last, g.constInt64([0], [])], { axis: 1 });
  const pooled = g.scope('vision_model', () => layerNorm(g, 'post_layernorm', cls, D, c.layer_norm_eps));
  const embeds = linear(g, 'visual_projection', pooled, D, c.projection_dim, false);
  g.output(toF32(g, embeds), 'image_embeds', DataType.FLOAT, ['B', c.projection_dim]);
  g.output(toF32(g, last), 'last_hidden_state', DataType.FLOAT, ['B', patches + 1, D]);
  weights.assertAllUsed((n) => n === 'vision_model.embeddings.position_ids');
  return g.build({ network: 'CLIPVisionModelWithProjection' });
}

/** patch conv (no bias) → tokens; prepend class_embedding; add position_embedding. (B, N+1, D) */
function embeddings(g: G, pixels: Value, c: ClipVisionConfig, patches: number): Value {
  const D = c.hidden_size;
  return g.scope('embeddings', () => {
    const p = conv(g, 'patch_embedding', pixels, { inC: c.num_channels, outC: D, kernel: c.patch_size, stride: c.patch_size, bias: false });
    const tokens = transpose(g, reshape(g, p, [0, D, -1]), [0, 2, 1]); // (B, N, D)
    const B = dim(g, pixels, 0);
    const cls = g.op('Expand', [reshape(g, g.param('class_embedding', [D]), [1, 1, D]), g.op('Concat', [B, g.constInt64([1, D])], { axis: 0 })]);
    const withCls = g.op('Concat', [cls, tokens], { axis: 1 });
    const pos = g.scope('position_embedding', () => g.param('weight', [patches + 1, D]));
    return g.op('Add', [withCls, pos]);
  });
}

/** Pre-LN block: h += out_proj(MHA(LN1(h))); h += fc2(act(fc1(LN2(h)))). */
function encoderLayer(g: G, h: Value, c: ClipVisionConfig): Value {
  const D = c.hidden_size;
  const normed1 = layerNorm(g, 'layer_norm1', h, D, c.layer_norm_eps);
  const attended = g.scope('self_attn', () => {
    const q = linear(g, 'q_proj', normed1, D, D);
    const k = linear(g, 'k_proj', normed1, D, D);
    const v = linear(g, 'v_proj', normed1, D, D);
    const o = g.op('MultiHeadAttention', [q, k, v], { num_heads: c.num_attention_heads }, { domain: MS_DOMAIN });
    return linear(g, 'out_proj', o, D, D);
  });
  h = g.op('Add', [h, attended]);
  const normed2 = layerNorm(g, 'layer_norm2', h, D, c.layer_norm_eps);
  const mlp = g.scope('mlp', () => {
    const f1 = linear(g, 'fc1', normed2, D, c.intermediate_size);
    const act = c.hidden_act === 'gelu' ? gelu(g, f1) : g.op('Mul', [f1, g.op('Sigmoid', [g.op('Mul', [f1, g.scalarAct(1.702)])])]);
    return linear(g, 'fc2', act, c.intermediate_size, D);
  });
  return g.op('Add', [h, mlp]);
}

/** The image encoder, plus the encoder's last hidden state for debugging and parity. */
export interface ClipVisionRunner extends ImageEncoder {
  run(pixelValues: Float32Tensor): Promise<{ imageEmbeds: Float32Tensor; lastHiddenState: Float32Tensor }>;
}

export async function loadImageEncoder(weights: WeightSource, config: ClipVisionConfig, options: NetOptions = {}): Promise<ClipVisionRunner> {
  const session = await Session.create(buildClipVision(weights, config, options.precision), { label: 'CLIP image encoder', ...options });
  const run = async (pixelValues: Float32Tensor) => {
    const out = await session.run({ pixel_values: pixelValues });
    return {
      imageEmbeds: asFloat32(out.image_embeds, 'image_embeds'),
      lastHiddenState: asFloat32(out.last_hidden_state, 'last_hidden_state'),
    };
  };
  return {
    run,
    encode: async (pixelValues) => (await run(pixelValues)).imageEmbeds,
    release: () => session.release(),
  };
}
