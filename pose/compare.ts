// Two extractors over the same frames (`cnext pose --compare`): per-joint mean distance between their body
// points, detection rates, and a side-by-side video of their pose maps (left: first track, right: second).
import { noEmit, type EmitFn } from '../src/core/events.ts';
import { createVideoEncoder } from '../video/encode.ts';
import { BODY_NAMES, BODY_POINTS, type Pose, posesToDwpose, SUBSET_SCORE_THRESHOLD } from './keypoints.ts';
import { PoseRenderer } from './render.ts';

export interface TrackFrames {
  readonly name: string;
  readonly frames: ReadonlyArray<{ readonly index: number; readonly detected: Pose | null }>;
}

export interface JointComparison {
  readonly joint: (typeof BODY_NAMES)[number];
  /** frames where both extractors see the joint (score > 0.3) */
  readonly frames: number;
  /** mean distance in source-frame pixels over those frames (null when none) */
  readonly meanPx: number | null;
  /** fraction of frames where each extractor sees the joint */
  readonly rateA: number;
  readonly rateB: number;
}

export interface TrackComparison {
  readonly a: string;
  readonly b: string;
  readonly frames: number;
  /** fraction of frames with a person */
  readonly personRateA: number;
  readonly personRateB: number;
  readonly joints: readonly JointComparison[];
  /** mean over the joints' mean distances (joints seen by both at least once) */
  readonly meanPx: number | null;
}

const seen = (p: Pose | null, j: number) => !!p && p.body[j]![2] > SUBSET_SCORE_THRESHOLD;

/** Compares two tracks frame by frame (same frame indices, in order); distances in pixels of a width × height frame. */
export function compareTracks(a: TrackFrames, b: TrackFrames, size: { width: number; height: number }): TrackComparison {
  const n = Math.min(a.frames.length, b.frames.length);
  const joints: JointComparison[] = [];
  for (let j = 0; j < BODY_POINTS; j++) {
    let both = 0, sum = 0, ra = 0, rb = 0;
    for (let i = 0; i < n; i++) {
      const pa = a.frames[i]!.detected, pb = b.frames[i]!.detected;
      if (seen(pa, j)) ra++;
      if (seen(pb, j)) rb++;
      if (seen(pa, j) && seen(pb, j)) {
        const [xa, ya] = pa!.body[j]!, [xb, yb] = pb!.body[j]!;
        sum += Math.hypot((xa - xb) * size.width, (ya - yb) * size.height);
        both++;
      }
    }
    joints.push({ joint: BODY_NAMES[j]!, frames: both, meanPx: both ? sum / both : null, rateA: n ? ra / n : 0, rateB: n ? rb / n : 0 });
  }
  const means = joints.flatMap((j) => (j.meanPx === null ? [] : [j.meanPx]));
  const rate = (t: TrackFrames) => (n ? t.frames.slice(0, n).filter((f) => f.detected).length / n : 0);
  return {
    a: a.name, b: b.name, frames: n, personRateA: rate(a), personRateB: rate(b), joints,
    meanPx: means.length ? means.reduce((s, v) => s + v, 0) / means.length : null,
  };
}

/** Log lines for a comparison: one summary, then one line per joint. */
export function comparisonLines(c: TrackComparison): string[] {
  const pct = (v: number) => `${(100 * v).toFixed(0)}%`;
  const px = (v: number | null) => (v === null ? '—' : `${v.toFixed(1)} px`);
  return [
    `compare ${c.a} vs ${c.b} over ${c.frames} frames: person found ${pct(c.personRateA)} / ${pct(c.personRateB)}, mean joint distance ${px(c.meanPx)}`,
    ...c.joints.map((j) => `  ${j.joint.padEnd(15)} ${px(j.meanPx).padStart(9)} (both ${j.frames})  seen ${pct(j.rateA)} / ${pct(j.rateB)}`),
  ];
}

/** Side-by-side pose maps (a | b), each width × height, one frame per compared frame. */
export async function writeCompareVideo(
  file: string, a: TrackFrames, b: TrackFrames, size: { width: number; height: number }, fps: readonly [number, number],
  o: { emit?: EmitFn; signal?: AbortSignal } = {},
): Promise<void> {
  const emit = o.emit ?? noEmit;
  const { width: W, height: H } = size;
  const renderer = new PoseRenderer(H, W);
  const n = Math.min(a.frames.length, b.frames.length);
  const encoder = createVideoEncoder({ file, width: 2 * W, height: H, fps: [fps[0], fps[1]], preset: 'veryfast', signal: o.signal, metadata: { comment: `pose maps: ${a.name} | ${b.name}` } });
  try {
    const row = 3 * W;
    for (let i = 0; i < n; i++) {
      const left = renderer.renderRgb(posesToDwpose(a.frames[i]!.detected ? [a.frames[i]!.detected!] : [])).data;
      const right = renderer.renderRgb(posesToDwpose(b.frames[i]!.detected ? [b.frames[i]!.detected!] : [])).data;
      const out = new Uint8Array(2 * row * H);
      for (let y = 0; y < H; y++) {
        out.set(left.subarray(y * row, (y + 1) * row), 2 * y * row);
        out.set(right.subarray(y * row, (y + 1) * row), (2 * y + 1) * row);
      }
      await encoder.write(out);
    }
    await encoder.finish();
  } catch (e) {
    await encoder.abort();
    throw e;
  }
  emit({ type: 'artifact', kind: 'pose-video', path: file });
}
