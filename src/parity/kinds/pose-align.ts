// Parity kind `pose_align` (../shared/fixtures/README.md §4.9, §5.10): get_video_pose's rescale fit on the case's
// reference pose and driving-frame poses. a, b, ref_keypoint_id and the rescaled coordinates use the case
// tolerance; out.pose_images (draw_pose at the reference size) use the image semantics of pose_render with the
// bounds the tolerance gives for images (structured `images` field, else the numbers in tolerance.note).
import { CnextError } from '../../core/errors.ts';
import type { Tensor } from '../../core/tensor.ts';
import { alignFrames } from '../../../pose/align.ts';
import { PoseRenderer } from '../../../pose/render.ts';
import { compareOutputs } from '../compare.ts';
import type { KindRunner, OutputCheck, ParityCase } from '../types.ts';
import { checkImage, type ImageTolerance, readDwposeFrame, refImage } from './pose-render.ts';

function positive(c: ParityCase, key: string): number {
  const v = c.json.inputs[key];
  if (typeof v !== 'number' || !(v > 0)) throw new CnextError('PARITY_CASE_INVALID', `${c.name}: inputs.${key} must be a positive number, got ${JSON.stringify(v)}`);
  return v;
}

/** Image bounds: tolerance.images {mean_abs, max_mismatch_fraction}, else parsed from tolerance.note. */
export function imageTolerance(c: ParityCase): ImageTolerance {
  const t = c.json.tolerance as Record<string, unknown>;
  const img = t.images as Record<string, unknown> | undefined;
  if (img && typeof img.mean_abs === 'number' && typeof img.max_mismatch_fraction === 'number') {
    return { mean_abs: img.mean_abs, max_mismatch_fraction: img.max_mismatch_fraction };
  }
  const note = typeof t.note === 'string' ? t.note : '';
  const m = /images?:.*?mean_abs\s+([0-9.eE+-]+).*?max_mismatch_fraction\s+([0-9.eE+-]+)/.exec(note);
  if (!m || !(Number(m[1]) >= 0) || !(Number(m[2]) >= 0)) {
    throw new CnextError('PARITY_CASE_INVALID', `${c.name}: tolerance gives no image bounds (tolerance.images or "pose images: … mean_abs X, max_mismatch_fraction Y" in tolerance.note)`);
  }
  return { mean_abs: Number(m[1]), max_mismatch_fraction: Number(m[2]) };
}

export const run: KindRunner = async (c) => {
  const frameSpecs = c.json.inputs.frame_poses;
  if (!Array.isArray(frameSpecs) || !frameSpecs.length) {
    throw new CnextError('PARITY_CASE_INVALID', `${c.name}: inputs.frame_poses must list the sampled driving frames`);
  }
  const sizes = {
    refWidth: positive(c, 'ref_width'), refHeight: positive(c, 'ref_height'),
    videoWidth: positive(c, 'fw'), videoHeight: positive(c, 'fh'),
  };
  const frames = frameSpecs.map((_, j) => readDwposeFrame(c, `in.f${j}`));
  const { fit, frames: out } = alignFrames(readDwposeFrame(c, 'in.ref'), frames, sizes);

  const produced = new Map<string, Float32Array | Tensor>();
  produced.set('out.a', Float32Array.from(fit.a));
  produced.set('out.b', Float32Array.from(fit.b));
  produced.set('out.ref_keypoint_id', { type: 'int32', dims: [fit.refKeypointIds.length], data: Int32Array.from(fit.refKeypointIds) });
  out.forEach((f, j) => {
    produced.set(`out.f${j}.candidate`, { type: 'float32', dims: [f.candidate.length / 2, 2], data: Float32Array.from(f.candidate) });
    produced.set(`out.f${j}.hands`, { type: 'float32', dims: [2 * f.people, 21, 2], data: Float32Array.from(f.hands) });
    produced.set(`out.f${j}.faces`, { type: 'float32', dims: [f.people, 68, 2], data: Float32Array.from(f.faces) });
  });
  const checks: OutputCheck[] = compareOutputs(c, produced, { select: (n) => n !== 'out.pose_images' });

  const ref = refImage(c, 'out.pose_images'); // (F, 3, H, W)
  const [F, C, H, W] = ref.dims;
  if (F !== out.length || C !== 3 || H !== sizes.refHeight || W !== sizes.refWidth) {
    checks.push({ name: 'out.pose_images', maxAbs: Infinity, meanAbs: Infinity, pass: false, detail: `reference shape [${ref.dims.join(', ')}] does not match ${out.length} frames of 3×${sizes.refHeight}×${sizes.refWidth}` });
    return checks;
  }
  const tol = imageTolerance(c);
  const renderer = new PoseRenderer(H, W);
  const n = 3 * H * W;
  out.forEach((f, j) => {
    const got = renderer.renderChw(f);
    checks.push(checkImage(`out.pose_images[${j}]`, ref.data.subarray(j * n, (j + 1) * n), got.data, H * W, tol));
  });
  return checks;
};
