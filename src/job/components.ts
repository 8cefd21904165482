// The pipeline's networks from a models root laid out as models/layout.ts describes (svd-xt-1-1/ diffusers folder
// plus controlnext-svd-v2/). Each network is built and its session created when its stage asks for it.
import fs from 'node:fs';
import path from 'node:path';
import { CnextError } from '../core/errors.ts';
import type { PipelineComponents } from '../diffusion/pipeline.ts';
import { parseClipNormalization } from '../diffusion/svd-preprocess.ts';
import { loadVae, resolveVaeConfig } from '../nets/autoencoder-kl-temporal-decoder.ts';
import { loadImageEncoder, resolveClipVisionConfig } from '../nets/clip-vision.ts';
import { loadControlNeXt, resolveControlNeXtConfig, type ControlNeXtConfig } from '../nets/controlnext-svd.ts';
import { loadUnet, resolveUnetConfig } from '../nets/unet-spatio-temporal.ts';
import type { SessionOptions } from '../onnx/session.ts';
import { openWeightFile } from '../weights/open.ts';

export interface ComponentOptions {
  readonly device?: 'cpu' | 'cuda';
  readonly lowMemory?: boolean;
}

const PULL_HINT = 'Download the weights: HF_TOKEN=… cnext models pull svd-xt-1-1 controlnext-svd-v2 (accept the SVD licence on huggingface.co first)';

function missing(file: string, root: string): CnextError {
  return new CnextError('MODEL_MISSING', `Model file ${file} not found under ${root}`, {
    solutions: [PULL_HINT, 'Or point --models at a folder holding svd-xt-1-1/ and controlnext-svd-v2/', 'Or try the pipeline on synthetic weights: cnext demo'],
  });
}

function readJson(file: string, root: string): Record<string, unknown> {
  if (!fs.existsSync(file)) throw missing(file, root);
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new CnextError('MODEL_CONFIG_INVALID', `${file} is not valid JSON (${(e as Error).message})`, { cause: e });
  }
}

/** The first existing candidate (fp16 variant first, as pulled), else a MODEL_MISSING error naming the first. */
function weightFile(root: string, candidates: readonly string[]): string {
  for (const c of candidates) if (fs.existsSync(c)) return c;
  throw missing(candidates[0], root);
}

/** The files the pipeline reads, resolved up front so a missing file fails before any work. */
export function modelFiles(root: string) {
  const svd = path.join(root, 'svd-xt-1-1');
  const cn = path.join(root, 'controlnext-svd-v2');
  const kijai = path.join(root, 'controlnext-svd-v2-fp16');
  const st = (dir: string, stem: string) => [path.join(svd, dir, `${stem}.fp16.safetensors`), path.join(svd, dir, `${stem}.safetensors`)];
  return {
    imageEncoder: weightFile(root, st('image_encoder', 'model')),
    vae: weightFile(root, st('vae', 'diffusion_pytorch_model')),
    unet: weightFile(root, [path.join(cn, 'unet.bin'), path.join(kijai, 'controlnext-svd_v2-unet-fp16.safetensors')]),
    controlnext: weightFile(root, [path.join(cn, 'controlnet.bin'), path.join(kijai, 'controlnext-svd_v2-controlnet-fp16.safetensors')]),
    configs: {
      imageEncoder: path.join(svd, 'image_encoder', 'config.json'),
      vae: path.join(svd, 'vae', 'config.json'),
      unet: path.join(svd, 'unet', 'config.json'),
      scheduler: path.join(svd, 'scheduler', 'scheduler_config.json'),
      featureExtractor: path.join(svd, 'feature_extractor', 'preprocessor_config.json'),
      /** Only for non-default ControlNeXt configs (synthetic tiny models); the released files carry none. */
      controlnext: path.join(cn, 'config.json'),
    },
  };
}

export function loadModelComponents(root: string, o: ComponentOptions = {}): PipelineComponents {
  const f = modelFiles(root);
  const session: SessionOptions = { provider: o.device ?? 'cpu', lowMemory: o.lowMemory ?? false };
  const clipConfig = resolveClipVisionConfig(readJson(f.configs.imageEncoder, root));
  const vaeConfig = resolveVaeConfig(readJson(f.configs.vae, root));
  const unetConfig = resolveUnetConfig(readJson(f.configs.unet, root));
  const cnConfig = resolveControlNeXtConfig(
    (fs.existsSync(f.configs.controlnext) ? readJson(f.configs.controlnext, root) : {}) as Partial<ControlNeXtConfig>,
  );
  const key = [f.imageEncoder, f.vae, f.unet, f.controlnext]
    .map((p) => {
      const s = fs.statSync(p);
      return `${p}:${s.size}:${s.mtimeMs}`;
    })
    .join('|');
  return {
    imageEncoder: () => loadImageEncoder(openWeightFile(f.imageEncoder), clipConfig, session),
    vae: () => loadVae(openWeightFile(f.vae), vaeConfig, session),
    unet: () => loadUnet(openWeightFile(f.unet), unetConfig, session),
    controlnext: () => loadControlNeXt(openWeightFile(f.controlnext), cnConfig, session),
    schedulerConfig: readJson(f.configs.scheduler, root),
    clipNormalization: parseClipNormalization(readJson(f.configs.featureExtractor, root)),
    key,
  };
}
