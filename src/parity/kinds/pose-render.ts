// Parity kind `pose_render` (../shared/fixtures/README.md §4.8, §5.9): dwpose/util.py draw_pose on the case's
// poses for every canvas in inputs.canvases. Image tolerance semantics (README §2), per image: mean |diff| ≤
// mean_abs and the fraction of pixels whose max-channel |diff| > 16 ≤ max_mismatch_fraction.
import { CnextError } from '../../core/errors.ts';
import type { Tensor } from '../../core/tensor.ts';
import { type DwposeFrame, DWPOSE_FIELDS } from '../../../pose/keypoints.ts';
import { PoseRenderer } from '../../../pose/render.ts';
import { fmt } from '../compare.ts';
import type { KindRunner, OutputCheck, ParityCase } from '../types.ts';

export const MISMATCH_THRESHOLD = 16;

export interface ImageTolerance {
  readonly mean_abs: number;
  readonly max_mismatch_fraction: number;
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

/** The DWPose structure stored as `in.<prefix>.{candidate, subset, body_score, hands, ...}`. */
export function readDwposeFrame(c: ParityCase, prefix: string): DwposeFrame {
  const arrays = {} as Record<(typeof DWPOSE_FIELDS)[number], Float32Array>;
  for (const k of DWPOSE_FIELDS) {
    const t = c.io.get(`${prefix}.${k}`);
    if (!t) throw new CnextError('PARITY_MISSING_TENSOR', `${c.name}: io.safetensors has no tensor ${prefix}.${k}`);
    if (t.type !== 'float32') throw new CnextError('PARITY_CASE_INVALID', `${c.name}: ${prefix}.${k} is ${t.type}, expected float32`);
    arrays[k] = t.data as Float32Array;
  }
  return { people: c.io.get(`${prefix}.subset`)!.dims[0], ...arrays };
}

/** One uint8 image (any layout, same as the reference) under the image tolerance. */
export function checkImage(name: string, ref: ArrayLike<number>, got: ArrayLike<number>, pixels: number, tol: ImageTolerance): OutputCheck {
  if (ref.length !== got.length || ref.length !== 3 * pixels) {
    return { name, maxAbs: Infinity, meanAbs: Infinity, pass: false, detail: `${got.length} values, expected ${ref.length}` };
  }
  // (3, H, W): channel planes of `pixels` values
  let sum = 0, max = 0, mismatched = 0;
  for (let p = 0; p < pixels; p++) {
    let m = 0;
    for (let ch = 0; ch < 3; ch++) {
      const d = Math.abs(got[ch * pixels + p] - ref[ch * pixels + p]);
      sum += d;
      if (d > m) m = d;
    }
    if (m > max) max = m;
    if (m > MISMATCH_THRESHOLD) mismatched++;
  }
  const meanAbs = sum / (3 * pixels);
  const frac = mismatched / pixels;
  const over: string[] = [];
  if (!(meanAbs <= tol.mean_abs)) over.push(`mean_abs ${fmt(meanAbs)} > ${fmt(tol.mean_abs)}`);
  if (!(frac <= tol.max_mismatch_fraction)) over.push(`mismatch ${fmt(frac)} > ${fmt(tol.max_mismatch_fraction)}`);
  return { name, maxAbs: max, meanAbs, pass: over.length === 0, detail: over.length ? over.join(', ') : `mismatch=${fmt(frac)}` };
}

/** The uint8 (3, H, W) reference image `name`. */
export function refImage(c: ParityCase, name: string): Tensor<'uint8'> {
  const t = c.io.get(name);
  if (!t) throw new CnextError('PARITY_MISSING_TENSOR', `${c.name}: io.safetensors has no tensor ${name}`);
  if (t.type !== 'uint8') throw new CnextError('PARITY_CASE_INVALID', `${c.name}: ${name} is ${t.type}, expected uint8`);
  return t as Tensor<'uint8'>;
}

interface CanvasSpec { name: string; H: number; W: number; ref_w: number; poses: number[] }

function canvases(c: ParityCase): CanvasSpec[] {
  const list = c.json.inputs.canvases;
  const ok = (v: unknown): v is CanvasSpec => {
    const s = v as CanvasSpec;
    return typeof s === 'object' && s !== null && typeof s.name === 'string' && [s.H, s.W, s.ref_w].every((n) => Number.isInteger(n) && n > 0)
      && Array.isArray(s.poses) && s.poses.every((p) => Number.isInteger(p) && p >= 0);
  };
  if (!Array.isArray(list) || !list.length || !list.every(ok)) {
    throw new CnextError('PARITY_CASE_INVALID', `${c.name}: inputs.canvases must be a list of {name, H, W, ref_w, poses}, got ${JSON.stringify(list)}`);
  }
  return list;
}

export const run: KindRunner = async (c) => {
  const t = c.json.tolerance;
  if (!isNum(t.max_mismatch_fraction)) {
    throw new CnextError('PARITY_CASE_INVALID', `${c.name}: tolerance.max_mismatch_fraction must be a non-negative number`);
  }
  const tol: ImageTolerance = { mean_abs: t.mean_abs, max_mismatch_fraction: t.max_mismatch_fraction };
  const checks: OutputCheck[] = [];
  const seen = new Set<string>();
  for (const cv of canvases(c)) {
    const renderer = new PoseRenderer(cv.H, cv.W, cv.ref_w);
    for (const p of cv.poses) {
      const name = `out.p${p}.${cv.name}`;
      seen.add(name);
      const ref = refImage(c, name);
      const got = renderer.renderChw(readDwposeFrame(c, `in.p${p}`));
      checks.push(checkImage(name, ref.data, got.data, cv.H * cv.W, tol));
    }
  }
  for (const name of c.io.keys()) {
    if (name.startsWith('out.') && !seen.has(name)) {
      checks.push({ name, maxAbs: Infinity, meanAbs: Infinity, pass: false, detail: 'not produced (no canvas in inputs.canvases names it)' });
    }
  }
  return checks;
};
