// Small deterministic stand-ins for the four networks (plain TypeScript, float32 results), with the shapes of
// the real ones, so the sampler and pipeline can be tested without weights. Every output depends on every input
// the real network sees (frames interact, control and its scale matter), so wiring mistakes change the numbers.
import { float32, type Float32Tensor } from '../../src/core/tensor.ts';
import type { ControlInput, ControlNeXt, ImageEncoder, Unet, Vae } from '../../src/nets/interfaces.ts';

const f = Math.fround;

export interface CallLog {
  clip: number;
  vaeEncode: number;
  vaeDecode: number[];
  controlnext: number[];
  unet: number;
  released: string[];
}

export function newLog(): CallLog {
  return { clip: 0, vaeEncode: 0, vaeDecode: [], controlnext: [], unet: 0, released: [] };
}

export const EMBED_DIM = 8;
export const CTRL_CHANNELS = 4;

export function fakeImageEncoder(log: CallLog): ImageEncoder {
  return {
    async encode(px) {
      log.clip++;
      const [, c, hh, ww] = px.dims;
      const plane = hh * ww;
      const out = new Float32Array(EMBED_DIM);
      for (let d = 0; d < EMBED_DIM; d++) {
        const ch = d % c;
        let s = 0;
        for (let p = 0; p < plane; p += d + 1) s += px.data[ch * plane + p];
        out[d] = f((s / plane) * (d + 1));
      }
      return float32([1, EMBED_DIM], out);
    },
    release: async () => void log.released.push('clip'),
  };
}

/** Scale factor 8, 4 latent channels; decode mixes the frames of each decoded video (like temporal layers). */
export function fakeVae(log: CallLog): Vae {
  return {
    scalingFactor: 0.18215,
    async encode(img) {
      log.vaeEncode++;
      const [, , H, W] = img.dims;
      const h = H / 8;
      const w = W / 8;
      const out = new Float32Array(4 * h * w);
      for (let c = 0; c < 4; c++) {
        for (let y = 0; y < h; y++) {
          for (let x = 0; x < w; x++) {
            let s = 0;
            for (let dy = 0; dy < 8; dy++) for (let dx = 0; dx < 8; dx++) s += img.data[(c % 3) * H * W + (y * 8 + dy) * W + x * 8 + dx];
            out[(c * h + y) * w + x] = f(s / 64 + c * 0.1);
          }
        }
      }
      return float32([1, 4, h, w], out);
    },
    async decode(z, numFrames) {
      log.vaeDecode.push(numFrames);
      const [n, , h, w] = z.dims;
      const H = h * 8;
      const W = w * 8;
      const out = new Float32Array(n * 3 * H * W);
      const fs = 4 * h * w;
      for (let i = 0; i < n; i++) {
        const v0 = Math.floor(i / numFrames) * numFrames;
        for (let c = 0; c < 3; c++) {
          for (let y = 0; y < H; y++) {
            for (let x = 0; x < W; x++) {
              const li = (c * h + (y >> 3)) * w + (x >> 3);
              let m = 0;
              for (let k = v0; k < v0 + numFrames; k++) m += z.data[k * fs + li];
              out[((i * 3 + c) * H + y) * W + x] = f(Math.tanh(z.data[i * fs + li] * 0.3 + (m / numFrames) * 0.05) * 1.1);
            }
          }
        }
      }
      return float32([n, 3, H, W], out);
    },
    release: async () => void log.released.push('vae'),
  };
}

/** [B, F, 3, H, W] → [B·F, 4, H/16, W/16] */
export function fakeControlNeXt(log: CallLog): ControlNeXt {
  return {
    async run(sample, t) {
      const [B, F, , H, W] = sample.dims;
      log.controlnext.push(B * F);
      const hc = H / 16;
      const wc = W / 16;
      const out = new Float32Array(B * F * CTRL_CHANNELS * hc * wc);
      for (let r = 0; r < B * F; r++) {
        for (let c = 0; c < CTRL_CHANNELS; c++) {
          for (let y = 0; y < hc; y++) {
            for (let x = 0; x < wc; x++) {
              const v = sample.data[((r * 3 + (c % 3)) * H + y * 16 + 3) * W + x * 16 + 5];
              out[((r * CTRL_CHANNELS + c) * hc + y) * wc + x] = f(v * (c + 1) + t * 0.01);
            }
          }
        }
      }
      return float32([B * F, CTRL_CHANNELS, hc, wc], out);
    },
    release: async () => void log.released.push('controlnext'),
  };
}

/** [B, F, 8, h, w] → [B, F, 4, h, w]; uses the other frames of its video, the embeddings, time ids and control. */
export function fakeUnet(log: CallLog): Unet {
  return {
    async run(sample, t, ehs, ati, control?: ControlInput) {
      log.unet++;
      const [B, F, C2, h, w] = sample.dims;
      const C = C2 / 2;
      const D = ehs.dims[2];
      const plane = h * w;
      const out = new Float32Array(B * F * C * plane);
      for (let b = 0; b < B; b++) {
        let e = 0;
        for (let d = 0; d < D; d++) e += ehs.data[b * D + d] * (d + 1);
        const a = ati.data[b * 3] * 0.01 + ati.data[b * 3 + 1] * 0.001 + ati.data[b * 3 + 2];
        for (let fr = 0; fr < F; fr++) {
          const row = b * F + fr;
          let ctrl = 0;
          if (control) {
            const n = control.output.data.length / control.output.dims[0];
            for (let k = 0; k < n; k += 3) ctrl += control.output.data[row * n + k];
            ctrl = (ctrl / n) * control.scale.data[row];
          }
          for (let c = 0; c < C; c++) {
            for (let p = 0; p < plane; p++) {
              let m = 0;
              for (let k = 0; k < F; k++) m += sample.data[((b * F + k) * C2 + c) * plane + p];
              const x = sample.data[((b * F + fr) * C2 + c) * plane + p];
              const img = sample.data[((b * F + fr) * C2 + C + c) * plane + p];
              out[((b * F + fr) * C + c) * plane + p] = f(0.5 * x + 0.1 * (m / F) + 0.2 * img + 0.01 * e + 0.1 * a + 0.02 * t + 0.3 * ctrl);
            }
          }
        }
      }
      return float32([B, F, C, h, w], out);
    },
    release: async () => void log.released.push('unet'),
  };
}

/** A reference image [H,W,3] and F pose frames [F,H,W,3] with varied content. */
export function testImages(F: number, H: number, W: number): { ref: Uint8Array; poses: Uint8Array } {
  const ref = new Uint8Array(H * W * 3);
  for (let i = 0; i < ref.length; i++) ref[i] = (i * 37 + (i >> 5) * 11) & 255;
  const poses = new Uint8Array(F * H * W * 3);
  for (let i = 0; i < poses.length; i++) poses[i] = ((i * 13) ^ (i >> 7) * 29) & 255;
  return { ref, poses };
}

export const SVD_SCHEDULER_CONFIG = {
  _class_name: 'EulerDiscreteScheduler', beta_end: 0.012, beta_schedule: 'scaled_linear', beta_start: 0.00085,
  clip_sample: false, interpolation_type: 'linear', num_train_timesteps: 1000, prediction_type: 'v_prediction',
  set_alpha_to_one: false, sigma_max: 700.0, sigma_min: 0.002, skip_prk_steps: true, steps_offset: 1,
  timestep_spacing: 'leading', timestep_type: 'continuous', trained_betas: null, use_karras_sigmas: true,
};

export const CLIP_NORM = { image_mean: [0.48145466, 0.4578275, 0.40821073], image_std: [0.26862954, 0.26130258, 0.27577711] };

export type { Float32Tensor };

/**
 * fakeControlNeXt with the stem/head split of the real one: `stem` is timestep-free (it logs its rows in
 * `stemRows`), `head` adds the timestep (logging its rows in `log.controlnext`); `run` = head ∘ stem.
 */
export function fakeSplitControlNeXt(log: CallLog, stemRows: number[]): ControlNeXt {
  const plain = fakeControlNeXt(newLog()); // its calls are logged as stem rows here
  const stem = async (sample: Float32Tensor): Promise<Float32Tensor> => {
    const [B, F] = sample.dims;
    stemRows.push(B * F);
    return plain.run(sample, 0).then((t) => float32([B, F, ...t.dims.slice(1)], t.data));
  };
  const head = async (s: Float32Tensor, t: number): Promise<Float32Tensor> => {
    const [B, F, ...rest] = s.dims;
    log.controlnext.push(B * F);
    const out = s.data.map((v) => f(v + t * 0.01));
    return float32([B * F, ...rest], out);
  };
  return {
    run: async (sample, t) => head(await stem(sample), t),
    stem,
    head,
    releaseStem: async () => void log.released.push('controlnext-stem'),
    release: async () => void log.released.push('controlnext'),
  };
}
