// Denoising checkpoints in the job folder: after every completed step the merged latents (plus the image
// conditioning, so a resumed run skips CLIP and the VAE encoder) are written to `denoise.safetensors`
// atomically (tmp file + fsync + rename), tagged with the step index and a hash of everything that determines
// the latents. A run with the same hash resumes after the last completed step; since the loop's state is exactly
// these tensors, the result is bit-identical to an uninterrupted run.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { CnextError } from '../core/errors.ts';
import { shapeString, type Float32Tensor } from '../core/tensor.ts';
import { readSafetensorsHeader, readTensor, writeSafetensors, type TensorToWrite } from '../weights/safetensors.ts';

export const CHECKPOINT_FILE = 'denoise.safetensors';
const FORMAT = 'cnext-denoise-checkpoint-1';

export interface DenoiseCheckpoint {
  /** Index of the last completed denoising step (0-based). */
  readonly step: number;
  readonly steps: number;
  /** (1, F, C, h, w) merged latents after `step`. */
  readonly latents: Float32Tensor;
  /** (1, D) CLIP image embedding (conditional row). */
  readonly imageEmbedding: Float32Tensor;
  /** (1, C, h, w) VAE latents of the augmented reference image (conditional row). */
  readonly imageLatents: Float32Tensor;
}

/** Incremental sha256 over the inputs and parameters of a run; `digest()` is the checkpoint key. */
export class RunHasher {
  private readonly h = createHash('sha256');

  /** Adds a labelled JSON value (keys sorted, so object key order does not matter). */
  json(label: string, value: unknown): this {
    return this.text(label, stableJson(value));
  }

  text(label: string, value: string): this {
    this.h.update(`${label}\0${value.length}\0${value}\0`);
    return this;
  }

  bytes(label: string, data: ArrayBufferView): this {
    this.h.update(`${label}\0${data.byteLength}\0`);
    this.h.update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    return this;
  }

  digest(): string {
    return this.h.digest('hex');
  }
}

function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${stableJson(x)}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

function f32(t: Float32Tensor): TensorToWrite {
  return { dtype: 'F32', shape: t.dims, data: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength) };
}

export function checkpointPath(jobDir: string): string {
  return path.join(jobDir, CHECKPOINT_FILE);
}

/** Writes (replaces) the checkpoint atomically; returns its path. */
export function writeCheckpoint(jobDir: string, key: string, c: DenoiseCheckpoint): string {
  fs.mkdirSync(jobDir, { recursive: true });
  const file = checkpointPath(jobDir);
  writeSafetensors(
    file,
    { latents: f32(c.latents), image_embedding: f32(c.imageEmbedding), image_latents: f32(c.imageLatents) },
    { format: FORMAT, key, step: String(c.step), steps: String(c.steps) },
  );
  return file;
}

export type CheckpointLookup =
  | { readonly status: 'none' }
  /** A checkpoint of a different run (other inputs or parameters): it is ignored and will be overwritten. */
  | { readonly status: 'mismatch'; readonly file: string }
  | { readonly status: 'found'; readonly file: string; readonly checkpoint: DenoiseCheckpoint };

/** Looks for a checkpoint of the run identified by `key`; `latentDims` is checked when given. */
export function readCheckpoint(jobDir: string, key: string, latentDims?: readonly number[]): CheckpointLookup {
  const file = checkpointPath(jobDir);
  if (!fs.existsSync(file)) return { status: 'none' };
  let header;
  try {
    header = readSafetensorsHeader(file);
  } catch (e) {
    throw new CnextError('CHECKPOINT_INVALID', `The checkpoint ${file} cannot be read (${(e as Error).message})`, {
      cause: e,
      solutions: [`Delete ${file} to start the denoising over.`],
    });
  }
  const meta = header.metadata ?? {};
  if (meta.format !== FORMAT || meta.key !== key) return { status: 'mismatch', file };
  const byName = new Map(header.entries.map((e) => [e.name, e]));
  const get = (name: string): Float32Tensor => {
    const e = byName.get(name);
    if (!e || e.dtype !== 'F32') {
      throw new CnextError('CHECKPOINT_INVALID', `The checkpoint ${file} has no float32 tensor "${name}"`, {
        solutions: [`Delete ${file} to start the denoising over.`],
      });
    }
    return readTensor(e) as Float32Tensor;
  };
  const step = Number(meta.step);
  const steps = Number(meta.steps);
  const latents = get('latents');
  if (!Number.isInteger(step) || !Number.isInteger(steps) || step < 0 || step >= steps) {
    throw new CnextError('CHECKPOINT_INVALID', `The checkpoint ${file} has an invalid step ${meta.step} of ${meta.steps}`, {
      solutions: [`Delete ${file} to start the denoising over.`],
    });
  }
  if (latentDims && shapeString(latentDims) !== shapeString(latents.dims)) {
    throw new CnextError('CHECKPOINT_INVALID', `The checkpoint ${file} holds latents of shape ${shapeString(latents.dims)}, expected ${shapeString(latentDims)}`, {
      solutions: [`Delete ${file} to start the denoising over.`],
    });
  }
  return {
    status: 'found',
    file,
    checkpoint: { step, steps, latents, imageEmbedding: get('image_embedding'), imageLatents: get('image_latents') },
  };
}
