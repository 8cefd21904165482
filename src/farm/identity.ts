// Which model files a job was planned with: name (relative to the models root), size, and sha256 where known
// (the download manifest records it; small files — configs, tiny synthetic weights — are hashed). A worker checks
// a job's list against its own copy and refuses the job when they differ, instead of making another video. The
// identity key (a hash of the list) replaces the path-based models key in the item and job keys, so a job folder
// started on one worker resumes on another whose models sit elsewhere.
import fs from 'node:fs';
import path from 'node:path';
import { readManifest } from '../../models/cache.ts';
import { sha256File } from '../../models/cache.ts';
import { CnextError } from '../core/errors.ts';
import { RunHasher } from '../diffusion/checkpoint.ts';
import type { ResolvedModelFiles } from '../diffusion/load.ts';
import type { PipelineComponents } from '../diffusion/pipeline.ts';
import type { ModelFileId } from './payload.ts';

/** Files up to this size are hashed when no manifest knows their sha256. */
const HASH_BELOW = 64 * 1024 * 1024;
const CONFIGS = [
  'svd-xt-1-1/model_index.json', 'svd-xt-1-1/scheduler/scheduler_config.json', 'svd-xt-1-1/feature_extractor/preprocessor_config.json',
  'svd-xt-1-1/image_encoder/config.json', 'svd-xt-1-1/vae/config.json', 'svd-xt-1-1/unet/config.json',
  'controlnext-svd-v2/config.json', 'controlnext-svd-v2-fp16/config.json',
];

const rel = (root: string, f: string) => path.relative(root, f).split(path.sep).join('/');

/** sha256 by the model folder's download manifest (when it recorded this size). */
function manifestSha(root: string, name: string, bytes: number): string | undefined {
  const [model, ...rest] = name.split('/');
  try {
    const rec = readManifest(root, { name: model! }).files[rest.join('/')];
    return rec && rec.bytes === bytes ? rec.sha256 : undefined;
  } catch {
    return undefined;
  }
}

/** The identity of the files a load of `root` uses (components from job/components.ts loadModelComponents). */
export async function modelIdentity(root: string, components: PipelineComponents): Promise<ModelFileId[]> {
  const files = (components as { files?: ResolvedModelFiles }).files;
  if (!files) throw new CnextError('INTERNAL', 'model components without their file list', { category: 'system' });
  const all = [...CONFIGS.map((c) => path.join(root, c)).filter((f) => fs.existsSync(f)), files.imageEncoder, files.vae, ...files.unet, files.controlnext];
  const out: ModelFileId[] = [];
  for (const f of all) {
    const name = rel(root, f);
    const bytes = fs.statSync(f).size;
    const sha256 = manifestSha(root, name, bytes) ?? (bytes < HASH_BELOW ? await sha256File(f) : undefined);
    out.push({ name, bytes, ...(sha256 ? { sha256 } : {}) });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : 1));
}

/** The portable models key: names, sizes, sha256s (no paths, no mtimes). */
export function identityKey(ids: readonly ModelFileId[]): string {
  const h = new RunHasher().text('format', 'cnext-model-identity-1');
  for (const f of [...ids].sort((a, b) => (a.name < b.name ? -1 : 1))) h.json(f.name, { bytes: f.bytes, sha256: f.sha256 });
  return h.digest();
}

/**
 * Differences between a job's model files and this worker's, in words; sha256s the job knows but the local
 * list does not are computed here (once per file: `hashLocal` caches).
 */
export async function compareIdentity(
  job: readonly ModelFileId[], local: readonly ModelFileId[], hashLocal: (name: string) => Promise<string>,
): Promise<string[]> {
  const mine = new Map(local.map((f) => [f.name, f]));
  const diffs: string[] = [];
  for (const f of job) {
    const m = mine.get(f.name);
    if (!m) diffs.push(`${f.name} is missing here`);
    else if (m.bytes !== f.bytes) diffs.push(`${f.name} is ${m.bytes} bytes here, ${f.bytes} in the job`);
    else if (f.sha256 && (m.sha256 ?? (await hashLocal(f.name))) !== f.sha256) diffs.push(`${f.name} has another sha256 here`);
  }
  const theirs = new Set(job.map((f) => f.name));
  for (const f of local) if (!theirs.has(f.name)) diffs.push(`${f.name} is used here but not in the job`);
  return diffs;
}
