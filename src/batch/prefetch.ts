// Pose prefetch: the job layer's own pose stage (src/job/poses.ts extractJobPoses), run for the next item into
// the job folder runJob will use, under the same pose key — runJob then finds the poses and skips its pose stage.
// MediaPipe runs in a worker thread and decoding in ffmpeg, so this overlaps with the ONNX Runtime denoising.
import fs from 'node:fs';
import path from 'node:path';
import { sha256File } from '../../models/cache.ts';
import { modelsRoot } from '../../models/layout.ts';
import { resolvePoseModel } from '../../models/pose-model.ts';
import { fitImage, loadImage } from '../../video/image.ts';
import { probeVideo } from '../../video/probe.ts';
import { defaultJobDir, poseKey, readJobRecord } from '../job/folder.ts';
import { extractJobPoses, extractorFor, readJobPoses } from '../job/poses.ts';
import { frameSize } from '../job/options.ts';
import type { ItemContext, RunnableItem } from './runner.ts';

/**
 * Extracts and stores the item's poses unless its job folder already holds them. Returns whether it worked.
 * `--pose-model` is resolved against the models folder exactly as runJob does, so both compute the same pose key.
 */
export async function prefetchPoses(item: RunnableItem, ctx: ItemContext, where: { models?: string } = {}): Promise<boolean> {
  const pm = resolvePoseModel(item.options.poseModel, modelsRoot({ models: where.models }));
  const o = { ...item.options, poseModel: pm.extractor };
  const file = async (p: string) => ({ path: path.resolve(p), bytes: fs.statSync(p).size, sha256: await sha256File(p, ctx.signal) });
  const inputs = { ref: await file(item.ref), video: await file(item.video) };
  const key = poseKey(inputs, o);
  const jobDir = defaultJobDir(item.output);
  if (readJobPoses(jobDir, key)) return false;
  // A job folder of another job with other poses: runJob would clear what we write; leave it to runJob.
  const old = readJobRecord(jobDir);
  if (old && old.poseKey !== key) return false;
  fs.mkdirSync(jobDir, { recursive: true });
  const info = await probeVideo(item.video);
  const img = await loadImage(item.ref);
  const { width, height } = frameSize(o);
  const refImage = await fitImage(img.rgb, img.width, img.height, width, height, o.fit);
  await extractJobPoses({ refImage, video: item.video, info, options: o, key, extractor: extractorFor(pm, o.device), jobDir, emit: ctx.emit, signal: ctx.signal });
  return true;
}
