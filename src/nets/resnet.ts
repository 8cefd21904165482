// diffusers `ResnetBlock2D`, `Downsample2D`, `Upsample2D` (src/diffusers/models/{resnet,downsampling,upsampling}.py).
import type { Value } from '../onnx/builder.ts';
import { conv, linear, silu, type G } from './nn.ts';
import { groupNorm } from './normalization.ts';

export interface ResnetSpec {
  inC: number;
  outC: number;
  /** Width of the time embedding fed to `time_emb_proj`; absent when the block has none. */
  tembC?: number;
  groups: number;
  eps: number;
}

/**
 * ResnetBlock2D: h = conv1(SiLU(GN1(x))) (+ time_emb_proj(SiLU(temb)) over H,W); h = conv2(SiLU(GN2(h)));
 * out = shortcut(x) + h. x [N, inC, H, W], temb [N, tembC].
 */
export function resnetBlock2D(g: G, name: string, x: Value, temb: Value | undefined, s: ResnetSpec): Value {
  return g.scope(name, () => {
    let h = conv(g, 'conv1', silu(g, groupNorm(g, 'norm1', x, s.inC, s.groups, s.eps)), { inC: s.inC, outC: s.outC, kernel: 3, pad: 1 });
    if (s.tembC !== undefined && temb) {
      const t = linear(g, 'time_emb_proj', silu(g, temb), s.tembC, s.outC);
      h = g.op('Add', [h, g.op('Unsqueeze', [t, g.constInt64([2, 3])])]);
    }
    h = conv(g, 'conv2', silu(g, groupNorm(g, 'norm2', h, s.outC, s.groups, s.eps)), { inC: s.outC, outC: s.outC, kernel: 3, pad: 1 });
    // diffusers: use_in_shortcut = in_channels != out_channels
    const shortcut = s.inC !== s.outC
      ? conv(g, 'conv_shortcut', x, { inC: s.inC, outC: s.outC, kernel: 1 })
      : x;
    return g.op('Add', [shortcut, h]);
  });
}

/** Downsample2D with conv: 3×3 stride 2 padding `pad` (UNet/ControlNeXt: 1; VAE encoder: 0 after a right/bottom pad). */
export function downsample2D(g: G, name: string, x: Value, channels: number, asymmetricPad = false): Value {
  return g.scope(name, () => {
    const input = asymmetricPad ? g.op('Pad', [x, g.constInt64([0, 0, 0, 0, 0, 0, 1, 1])]) : x;
    return conv(g, 'conv', input, { inC: channels, outC: channels, kernel: 3, stride: 2, pad: asymmetricPad ? 0 : 1 });
  });
}

/** Upsample2D: nearest ×2 then conv 3×3 p1. */
export function upsample2D(g: G, name: string, x: Value, channels: number): Value {
  return g.scope(name, () => {
    const up = g.op('Resize', [x, null, g.constFloat([1, 1, 2, 2])], { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' });
    return conv(g, 'conv', up, { inC: channels, outC: channels, kernel: 3, pad: 1 });
  });
}
