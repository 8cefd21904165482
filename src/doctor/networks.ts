// The doctor's per-network checks: build each network from a tiny synthetic model (real layout, random weights)
// on the device, run one forward, and check the output is finite. Run inside a child process (see isolate.ts).
import fs from 'node:fs';
import path from 'node:path';
import { synthesizeModels } from '../../models/synth.ts';
import type { Device, Precision } from '../core/device.ts';
import { float32, type Float32Tensor } from '../core/tensor.ts';
import { loadVae, resolveVaeConfig } from '../nets/autoencoder-kl-temporal-decoder.ts';
import { loadImageEncoder, resolveClipVisionConfig } from '../nets/clip-vision.ts';
import { loadControlNeXt, resolveControlNeXtConfig } from '../nets/controlnext-svd.ts';
import { loadUnet, resolveUnetConfig } from '../nets/unet-spatio-temporal.ts';
import type { SessionOptions } from '../onnx/session.ts';
import { openWeightFile } from '../weights/open.ts';
import { announce } from './isolate.ts';

export interface CheckTarget {
  readonly device: Device;
  readonly precision: Precision;
  readonly deviceId?: number;
}

/** Tiny model folders (as `cnext models synth --preset tiny` writes them). */
export interface TinyModel {
  readonly svdDir: string;
  readonly controlnextDir: string;
}

/** Writes the tiny synthetic model (≈ 8 MB, ~2 s) under `root`. */
export function writeTinyModel(root: string): TinyModel {
  const r = synthesizeModels(root, { preset: 'tiny', seed: 3 });
  return { svdDir: r.svdDir, controlnextDir: r.controlnextDir };
}

const FRAMES = 2;
const SIZE = 64; // pixels; latents 8×8

function readJson(file: string): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
}

/** Deterministic values in [-1, 1). */
function filled(dims: number[], seed: number): Float32Tensor {
  const n = dims.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = s / 2 ** 31 - 1;
  }
  return float32(dims, data);
}

function finite(t: Float32Tensor, what: string): void {
  let bad = 0;
  for (const v of t.data) if (!Number.isFinite(v)) bad++;
  if (bad) throw new Error(`${what} has ${bad} non-finite values of ${t.data.length} (NaN/Inf)`);
}

function weightFile(dir: string, base: string): string {
  const fp16 = path.join(dir, `${base}.fp16.safetensors`);
  return fs.existsSync(fp16) ? fp16 : path.join(dir, `${base}.safetensors`);
}

export interface NetworkCheck {
  readonly name: string;
  /** As in session labels and error messages. */
  readonly label: string;
  run(model: TinyModel, session: SessionOptions): Promise<void>;
}

/** One check per network the pipeline runs, in pipeline order. */
export const NETWORK_CHECKS: readonly NetworkCheck[] = [
  {
    name: 'clip',
    label: 'CLIP image encoder',
    async run(m, session) {
      const dir = path.join(m.svdDir, 'image_encoder');
      const config = resolveClipVisionConfig(readJson(path.join(dir, 'config.json')));
      const net = await loadImageEncoder(openWeightFile(weightFile(dir, 'model')), config, session);
      try {
        finite(await net.encode(filled([1, config.num_channels, config.image_size, config.image_size], 1)), 'image_embeds');
      } finally {
        await net.release();
      }
    },
  },
  {
    name: 'vae-encoder',
    label: 'VAE encoder',
    async run(m, session) {
      const dir = path.join(m.svdDir, 'vae');
      const vae = await loadVae(openWeightFile(weightFile(dir, 'diffusion_pytorch_model')), resolveVaeConfig(readJson(path.join(dir, 'config.json'))), session);
      try {
        finite(await vae.encode(filled([1, 3, SIZE, SIZE], 2)), 'latent');
      } finally {
        await vae.release();
      }
    },
  },
  {
    name: 'vae-decoder',
    label: 'VAE decoder',
    async run(m, session) {
      const dir = path.join(m.svdDir, 'vae');
      const config = resolveVaeConfig(readJson(path.join(dir, 'config.json')));
      const vae = await loadVae(openWeightFile(weightFile(dir, 'diffusion_pytorch_model')), config, session);
      try {
        finite(await vae.decode(filled([FRAMES, config.latent_channels, SIZE / 8, SIZE / 8], 3), FRAMES), 'decoded frames');
      } finally {
        await vae.release();
      }
    },
  },
  {
    name: 'controlnext',
    label: 'ControlNeXt',
    async run(m, session) {
      const config = resolveControlNeXtConfig(readJson(path.join(m.controlnextDir, 'config.json')));
      const net = await loadControlNeXt(openWeightFile(path.join(m.controlnextDir, 'controlnet.bin')), config, session);
      try {
        finite(await net.run(filled([1, FRAMES, 3, SIZE, SIZE], 4), 0.5), 'control features');
      } finally {
        await net.release();
      }
    },
  },
  {
    name: 'unet',
    label: 'UNet',
    async run(m, session) {
      const config = resolveUnetConfig(readJson(path.join(m.svdDir, 'unet', 'config.json')));
      const unet = await loadUnet(openWeightFile(path.join(m.controlnextDir, 'unet.bin')), config, session);
      try {
        // CFG batch 2 with the ControlNeXt input, as the sampler calls it (scale 0 for the unconditional half).
        const B = 2;
        const h = SIZE / 8;
        const D = config.cross_attention_dim as number;
        const C0 = (config.block_out_channels as readonly number[])[0];
        const control = {
          output: filled([B * FRAMES, C0, h, h], 5),
          scale: float32([B * FRAMES], Float32Array.from({ length: B * FRAMES }, (_, i) => (i < FRAMES ? 0 : 1))),
        };
        const out = await unet.run(filled([B, FRAMES, 8, h, h], 6), 0.7, filled([B, 1, D], 7), float32([B, 3], Float32Array.of(6, 128, 0.02, 6, 128, 0.02)), control);
        finite(out, 'noise prediction');
      } finally {
        await unet.release();
      }
    },
  },
];

export function findCheck(name: string): NetworkCheck | undefined {
  return NETWORK_CHECKS.find((c) => c.name === name);
}

/** Child side: run the named checks in order, announcing each (start, then ok or error). */
export async function runChecksInThisProcess(names: readonly string[], model: TinyModel, target: CheckTarget): Promise<void> {
  const session: SessionOptions = { provider: target.device, precision: target.precision, deviceId: target.deviceId };
  for (const name of names) {
    const check = findCheck(name);
    announce({ name, event: 'start' });
    const t0 = performance.now();
    try {
      if (!check) throw new Error(`unknown check ${name}`);
      await check.run(model, session); // the loaders label their sessions
      announce({ name, event: 'ok', seconds: (performance.now() - t0) / 1000 });
    } catch (e) {
      const message = (e instanceof Error ? e.message : String(e)).replace(/\s*\n\s*/g, ' ');
      announce({ name, event: 'error', seconds: (performance.now() - t0) / 1000, message });
    }
  }
}
