// The pipeline's components from files: a diffusers-layout SVD folder (model_index.json, scheduler/,
// feature_extractor/, image_encoder/, unet/, vae/) plus the ControlNeXt-SVD-v2 weights (controlnet.bin or a
// safetensors conversion) and, optionally, its fine-tuned UNet (unet.bin), which replaces the SVD UNet's tensors
// name by name (upstream: `unet.load_state_dict(load_tensor(unet_path), strict=False)`).
// Configs are read and checked here, at once; each network is built and its session created only when its stage
// asks for it (PipelineComponents), so only one stage's networks are in RAM at a time.
import fs from 'node:fs';
import path from 'node:path';
import { checkDevicePrecision, type Precision } from '../core/device.ts';
import { CnextError } from '../core/errors.ts';
import { loadVae, resolveVaeConfig } from '../nets/autoencoder-kl-temporal-decoder.ts';
import { loadImageEncoder, resolveClipVisionConfig } from '../nets/clip-vision.ts';
import { loadControlNeXt, resolveControlNeXtConfig, type ControlNeXtConfig } from '../nets/controlnext-svd.ts';
import { loadUnet, resolveUnetConfig } from '../nets/unet-spatio-temporal.ts';
import type { SessionOptions } from '../onnx/session.ts';
import { openWeightFile } from '../weights/open.ts';
import { WeightSource } from '../weights/weight-source.ts';
import type { PipelineComponents } from './pipeline.ts';
import { parseSchedulerConfig } from './scheduler.ts';
import { parseClipNormalization } from './svd-preprocess.ts';

export interface ModelFiles {
  /** The diffusers SVD folder. */
  readonly svdDir: string;
  /** ControlNeXt control branch weights (controlnet.bin, or a safetensors file with the same names). */
  readonly controlnext: string;
  /** Fine-tuned UNet weights overriding the SVD UNet's (ControlNeXt's unet.bin); optional. */
  readonly unet?: string;
  /** ControlNeXtSDVModel config.json; the class defaults (the released model) when absent. */
  readonly controlnextConfig?: string;
}

export interface LoadOptions {
  readonly session?: SessionOptions;
  /**
   * The networks' number format (default fp32; fp16 needs a CUDA session — refused on the CPU with one line).
   * tf32 builds the fp32 graphs (TF32 math is a session setting).
   */
  readonly precision?: Precision;
  /**
   * Which weight file of a diffusers sub-folder to use when both exist: default fp16 for fp16 graphs (used as
   * stored), fp32 otherwise (as the CPU computes in fp32).
   */
  readonly variant?: 'fp32' | 'fp16';
}

/** Which files a load used (for logs and checkpoint keys). */
export interface ResolvedModelFiles {
  readonly imageEncoder: string;
  readonly vae: string;
  readonly unet: readonly string[];
  readonly controlnext: string;
}

function missing(what: string, tried: readonly string[], dir: string): CnextError {
  return new CnextError('MODEL_FILE_MISSING', `No ${what} in ${dir} (looked for ${tried.join(', ')})`, {
    solutions: ['Check that the folder is a diffusers stable-video-diffusion-img2vid-xt(-1-1) folder: cnext models status'],
  });
}

function readJson(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new CnextError('MODEL_FILE_MISSING', `Cannot read ${file}: ${(e as Error).message}`, { cause: e });
  }
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not a JSON object');
    return v as Record<string, unknown>;
  } catch (e) {
    throw new CnextError('MODEL_CONFIG_INVALID', `${file} is not a valid JSON object (${(e as Error).message})`, { cause: e });
  }
}

/** The weight file of a diffusers sub-folder (`<base>.safetensors`, `<base>.fp16.safetensors`, then `.bin`). */
export function weightFileIn(dir: string, base: string, variant: 'fp32' | 'fp16' = 'fp32'): string | undefined {
  const kinds = variant === 'fp16' ? ['.fp16', ''] : ['', '.fp16'];
  const names = [...kinds.map((v) => `${base}${v}.safetensors`), ...kinds.map((v) => `${base}${v}.bin`)];
  return names.map((n) => path.join(dir, n)).find((p) => fs.existsSync(p));
}

function requireWeights(dir: string, base: string, variant: 'fp32' | 'fp16' | undefined, what: string): string {
  const file = weightFileIn(dir, base, variant);
  if (!file) throw missing(what, [`${base}.safetensors`, `${base}.fp16.safetensors`, `${base}.bin`], dir);
  return file;
}

function fileKey(file: string): string {
  const st = fs.statSync(file);
  return `${fs.realpathSync(file)}:${st.size}:${Math.trunc(st.mtimeMs)}`;
}

/** Reads and checks every config; returns loaders that build each network when its stage starts. */
export function loadComponents(files: ModelFiles, options: LoadOptions = {}): PipelineComponents & { readonly files: ResolvedModelFiles } {
  const dir = files.svdDir;
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new CnextError('MODEL_FILE_MISSING', `The SVD folder ${dir} does not exist`);
  }
  const sub = (name: string) => path.join(dir, name);
  const schedulerConfig = parseSchedulerConfig(readJson(path.join(sub('scheduler'), 'scheduler_config.json')));
  const clipNormalization = parseClipNormalization(readJson(path.join(sub('feature_extractor'), 'preprocessor_config.json')));
  const clipConfig = resolveClipVisionConfig(readJson(path.join(sub('image_encoder'), 'config.json')));
  const vaeConfig = resolveVaeConfig(readJson(path.join(sub('vae'), 'config.json')));
  const unetConfig = resolveUnetConfig(readJson(path.join(sub('unet'), 'config.json')));
  const ctrlConfig = resolveControlNeXtConfig(
    (files.controlnextConfig ? readJson(files.controlnextConfig) : {}) as Partial<ControlNeXtConfig>,
  );

  const precision = options.precision ?? 'fp32';
  checkDevicePrecision(options.session?.provider ?? 'cpu', precision);
  const variant = options.variant ?? (precision === 'fp16' ? 'fp16' : undefined);
  const imageEncoderFile = requireWeights(sub('image_encoder'), 'model', variant, 'image encoder weights');
  const vaeFile = requireWeights(sub('vae'), 'diffusion_pytorch_model', variant, 'VAE weights');
  const baseUnet = weightFileIn(sub('unet'), 'diffusion_pytorch_model', variant);
  if (!baseUnet && !files.unet) {
    throw missing('UNet weights (and no fine-tuned UNet file was given)', ['diffusion_pytorch_model(.fp16).safetensors'], sub('unet'));
  }
  for (const f of [files.controlnext, files.unet]) {
    if (f !== undefined && !fs.existsSync(f)) throw new CnextError('MODEL_FILE_MISSING', `Weight file ${f} does not exist`);
  }
  const unetFiles = [baseUnet, files.unet].filter((f): f is string => f !== undefined);
  const session = { ...options.session, precision };
  const resolved: ResolvedModelFiles = { imageEncoder: imageEncoderFile, vae: vaeFile, unet: unetFiles, controlnext: files.controlnext };

  return {
    files: resolved,
    schedulerConfig,
    clipNormalization,
    key: [imageEncoderFile, vaeFile, ...unetFiles, files.controlnext].map(fileKey).join('|'),
    imageEncoder: () => loadImageEncoder(openWeightFile(imageEncoderFile), clipConfig, session),
    vae: () => loadVae(openWeightFile(vaeFile), vaeConfig, session),
    unet: () => loadUnet(WeightSource.merge(unetFiles.map(openWeightFile)), unetConfig, session),
    controlnext: () => loadControlNeXt(openWeightFile(files.controlnext), ctrlConfig, session),
  };
}
