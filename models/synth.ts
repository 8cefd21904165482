// `cnext models synth`: a complete model folder in the real on-disk layout, filled with random weights.
// The parameter list of each network comes from running its real builder against a SpecRecorder, so the
// synthetic files cannot drift from what the loaders expect. Layout written under `root`:
//   svd-xt-1-1/{model_index.json, scheduler/, feature_extractor/, image_encoder/, unet/config.json, vae/}
//     (+ unet/diffusion_pytorch_model.fp16.safetensors with `baseUnet`)
//   controlnext-svd-v2/{unet.bin, controlnet.bin}   (PyTorch zips, like the released files)
//   */.cnext-manifest.json: marked synthetic, listing every file with its size and sha256
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { writeJsonAtomic } from '../src/core/atomic-file.ts';
import type { EmitFn } from '../src/core/events.ts';
import { buildClipVision, resolveClipVisionConfig } from '../src/nets/clip-vision.ts';
import { buildControlNeXt, resolveControlNeXtConfig } from '../src/nets/controlnext-svd.ts';
import { buildVaeDecoder, buildVaeEncoder, resolveVaeConfig } from '../src/nets/autoencoder-kl-temporal-decoder.ts';
import { buildUnet, resolveUnetConfig } from '../src/nets/unet-spatio-temporal.ts';
import { SpecRecorder, type SpecEntry } from '../src/weights/spec-recorder.ts';
import { writeSyntheticSafetensors, writeSyntheticTorchZip, type StateDictSpec } from '../src/weights/synthetic.ts';
import type { Manifest, ManifestRecord } from './cache.ts';
import { SYNTH_PRESETS, type SynthPreset } from './configs.ts';
import { manifestPath, modelDir } from './layout.ts';
import { REGISTRY } from './registry.ts';

export interface SynthOptions {
  readonly preset: SynthPreset;
  readonly seed?: number;
  /** Float dtype of the safetensors files (the real SVD variant is fp16). torch zips follow it. */
  readonly dtype?: 'F32' | 'F16';
  /** Also write the base SVD UNet safetensors (the ControlNeXt unet.bin replaces every tensor of it). */
  readonly baseUnet?: boolean;
  readonly emit?: EmitFn;
}

export interface SynthResult {
  readonly svdDir: string;
  readonly controlnextDir: string;
  readonly files: readonly string[];
  readonly bytes: number;
}

/** Record the state-dict spec of each network from its builder. */
export function networkSpecs(preset: SynthPreset): Record<'unet' | 'vae' | 'image_encoder' | 'controlnext', SpecEntry[]> {
  const c = SYNTH_PRESETS[preset];
  const unet = new SpecRecorder();
  buildUnet(unet, resolveUnetConfig(c.unet), { control: true });

  const vae = new SpecRecorder();
  const vaeConfig = resolveVaeConfig(c.vae);
  buildVaeEncoder(vae, vaeConfig);
  buildVaeDecoder(vae, vaeConfig);
  // The reference decoder owns its mid-block attention even where its forward never runs it.
  addVaeDecoderUnused(vae, vaeConfig.block_out_channels.at(-1)!, vaeConfig.layers_per_block);

  const clip = new SpecRecorder();
  buildClipVision(clip, resolveClipVisionConfig(c.image_encoder));

  const cn = c.controlnext;
  const stem = new Map<string, readonly number[]>([
    ['embedding.0.weight', [64, 3, 3, 3]],
    ['embedding.3.weight', [64, 64, 3, 3]],
    ['embedding.6.weight', [cn.in_channels[0], 64, 3, 3]],
    ['mid_convs.1.weight', [c.controlnextOutChannels, cn.out_channels.at(-1)!, 1, 1]],
  ]);
  const controlnext = new SpecRecorder(stem);
  buildControlNeXt(controlnext, resolveControlNeXtConfig(cn));

  return { unet: unet.spec(), vae: vae.spec(), image_encoder: clip.spec(), controlnext: controlnext.spec() };
}

function addVaeDecoderUnused(vae: SpecRecorder, C: number, layers: number): void {
  if (layers >= 2) return;
  const p = 'decoder.mid_block.attentions.0';
  vae.expect(`${p}.group_norm.weight`, [C]);
  vae.expect(`${p}.group_norm.bias`, [C]);
  for (const n of ['to_q', 'to_k', 'to_v', 'to_out.0']) {
    vae.expect(`${p}.${n}.weight`, [C, C]);
    vae.expect(`${p}.${n}.bias`, [C]);
  }
}

function writeJson(file: string, value: unknown): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
}

export function synthesizeModels(root: string, o: SynthOptions): SynthResult {
  const c = SYNTH_PRESETS[o.preset];
  const seed = o.seed ?? 0;
  const dtype = o.dtype ?? 'F16';
  const suffix = dtype === 'F16' ? '.fp16' : '';
  const specs = networkSpecs(o.preset);
  const svdDir = path.join(root, 'svd-xt-1-1');
  const controlnextDir = path.join(root, 'controlnext-svd-v2');
  const files: string[] = [];
  const weightFiles: Array<[string, StateDictSpec, 'safetensors' | 'torch']> = [
    [path.join(svdDir, 'image_encoder', `model${suffix}.safetensors`), specs.image_encoder, 'safetensors'],
    [path.join(svdDir, 'vae', `diffusion_pytorch_model${suffix}.safetensors`), specs.vae, 'safetensors'],
    [path.join(controlnextDir, 'unet.bin'), specs.unet, 'torch'],
    [path.join(controlnextDir, 'controlnet.bin'), specs.controlnext, 'torch'],
  ];
  if (o.baseUnet) weightFiles.push([path.join(svdDir, 'unet', `diffusion_pytorch_model${suffix}.safetensors`), specs.unet, 'safetensors']);

  writeJson(path.join(svdDir, 'model_index.json'), c.model_index);
  writeJson(path.join(svdDir, 'scheduler', 'scheduler_config.json'), c.scheduler);
  writeJson(path.join(svdDir, 'feature_extractor', 'preprocessor_config.json'), c.feature_extractor);
  writeJson(path.join(svdDir, 'image_encoder', 'config.json'), c.image_encoder);
  writeJson(path.join(svdDir, 'unet', 'config.json'), c.unet);
  writeJson(path.join(svdDir, 'vae', 'config.json'), c.vae);
  files.push(
    ...['model_index.json', 'scheduler/scheduler_config.json', 'feature_extractor/preprocessor_config.json', 'image_encoder/config.json', 'unet/config.json', 'vae/config.json']
      .map((f) => path.join(svdDir, f)),
  );
  // The released ControlNeXt files carry no config: the loader uses the class defaults. Only a model that
  // differs from them (the tiny one) needs a config.json beside its weights.
  if (o.preset !== 'svd-xt') {
    writeJson(path.join(controlnextDir, 'config.json'), c.controlnext);
    files.push(path.join(controlnextDir, 'config.json'));
  }

  let bytes = 0;
  weightFiles.forEach(([file, spec, format], i) => {
    o.emit?.({ type: 'progress', stage: 'download', done: i, total: weightFiles.length, unit: 'files' });
    fs.mkdirSync(path.dirname(file), { recursive: true });
    // Different seeds per file, so the base UNet and the fine-tuned one differ like the real pair.
    if (format === 'safetensors') writeSyntheticSafetensors(file, spec, { seed: seed + i, dtype });
    else writeSyntheticTorchZip(file, spec, { seed: seed + i, dtype });
    bytes += fs.statSync(file).size;
    files.push(file);
  });
  o.emit?.({ type: 'progress', stage: 'download', done: weightFiles.length, total: weightFiles.length, unit: 'files' });
  writeSyntheticManifests(root, files, { preset: o.preset, seed, dtype });
  return { svdDir, controlnextDir, files, bytes };
}

/**
 * Each model folder gets a manifest that says it is synthetic and lists its files with their sizes (and sha256,
 * up to 512 MB a file), so `cnext models list/verify` and the preflight check them against what was written here,
 * not against the hub's files (models/cache.ts expectedFiles).
 */
function writeSyntheticManifests(root: string, files: readonly string[], synthetic: NonNullable<Manifest['synthetic']>): void {
  for (const entry of REGISTRY) {
    const dir = modelDir(root, entry);
    const mine = files.filter((f) => f.startsWith(dir + path.sep));
    if (!mine.length) continue;
    const records: Record<string, ManifestRecord> = {};
    for (const f of mine) {
      const bytes = fs.statSync(f).size;
      const data = bytes <= 512e6 ? fs.readFileSync(f) : undefined;
      records[path.relative(dir, f).split(path.sep).join('/')] = {
        bytes, sha256: data ? createHash('sha256').update(data).digest('hex') : '', sha256Source: 'computed',
        url: `synthetic:${synthetic.preset}`, downloadedAt: new Date().toISOString(),
      };
    }
    writeJsonAtomic(manifestPath(root, entry), { version: 1, synthetic, files: records } satisfies Manifest);
  }
}
