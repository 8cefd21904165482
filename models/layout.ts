// Where models live on disk. The models root holds one folder per registry entry, and each folder mirrors the
// hub's layout, so the loaders see a plain diffusers folder:
//
//   <root>/svd-xt-1-1/unet/config.json
//   <root>/svd-xt-1-1/unet/diffusion_pytorch_model.fp16.safetensors
//   <root>/svd-xt-1-1/.cnext-manifest.json        what was downloaded, from where, with which size and sha256
//   <root>/controlnext-svd-v2/unet.bin
//
// Root, first match wins: `--models DIR` → `$CNEXT_CACHE/models` → `$XDG_CACHE_HOME/controlnext-motion/models`
// → `~/.cache/controlnext-motion/models`.
import os from 'node:os';
import path from 'node:path';
import { CnextError } from '../src/core/errors.ts';
import type { ModelEntry, ModelFile } from './registry.ts';

export const MANIFEST_NAME = '.cnext-manifest.json';
export const PARTIAL_SUFFIX = '.partial';

export interface RootOptions {
  /** `--models DIR` */
  readonly models?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly home?: string;
}

export function modelsRoot(opts: RootOptions = {}): string {
  const env = opts.env ?? process.env;
  if (opts.models) return path.resolve(opts.models);
  if (env.CNEXT_CACHE) return path.resolve(env.CNEXT_CACHE, 'models');
  if (env.XDG_CACHE_HOME) return path.resolve(env.XDG_CACHE_HOME, 'controlnext-motion', 'models');
  return path.join(opts.home ?? os.homedir(), '.cache', 'controlnext-motion', 'models');
}

/**
 * `<root>/<name>`; the MediaPipe bundles live in `$CNEXT_CACHE/mediapipe` (default
 * `~/.cache/controlnext-motion/mediapipe`), where the pose stage builds them (pose/mediapipe/bundles.ts bundleCacheDir).
 */
export function modelDir(root: string, entry: Pick<ModelEntry, 'name' | 'location'>, env: NodeJS.ProcessEnv = process.env): string {
  if (entry.location === 'mediapipe-cache') return mediapipeCacheDir(env);
  return path.join(root, entry.name);
}

/** Same rule as pose/mediapipe/bundles.ts bundleCacheDir (a test keeps them equal). */
export function mediapipeCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(env.CNEXT_CACHE || path.join(os.homedir(), '.cache', 'controlnext-motion'), 'mediapipe');
}

/** Absolute path of a registry file; refuses paths that would leave the model folder. */
export function filePath(root: string, entry: Pick<ModelEntry, 'name' | 'location'>, file: Pick<ModelFile, 'path'>): string {
  const dir = modelDir(root, entry);
  const p = path.resolve(dir, file.path);
  if (path.isAbsolute(file.path) || !p.startsWith(dir + path.sep)) {
    throw new CnextError('MODEL_PATH_INVALID', `Registry path ${file.path} of ${entry.name} leaves the model folder`, {
      category: 'system',
    });
  }
  return p;
}

export function partialPath(finalPath: string): string {
  return finalPath + PARTIAL_SUFFIX;
}

export function manifestPath(root: string, entry: Pick<ModelEntry, 'name' | 'location'>): string {
  return path.join(modelDir(root, entry), MANIFEST_NAME);
}
