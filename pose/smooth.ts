// Temporal clean-up of a detected pose track: short gap filling, then One-Euro smoothing, each switchable.
// Works per keypoint track (18 body, 2×21 hands, 68 face). A point is "present" when its score is at least
// `scoreThreshold` (DWPose draws points above 0.3). Coordinates are normalised; the filter works on
// isotropic units (x scaled by the aspect ratio, so both axes are in frame heights).
//
// One-Euro filter: Casiez, Roussel, Vogel, "1€ Filter: A Simple Speed-based Low-pass Filter for Noisy Input
// in Interactive Systems", CHI 2012. Cutoff = minCutoff + beta·|speed|; the derivative is low-passed at
// dCutoff. As the whole track is known, it runs forward and backward and averages the two passes, so the
// lag of one pass cancels the lead of the other (zero-phase).
import { BODY_POINTS, FACE_POINTS, HAND_POINTS, type Keypoint, type Pose } from './keypoints.ts';

export interface SmoothOptions {
  /** One-Euro smoothing (default true) */
  smooth?: boolean;
  /** fill short gaps by linear interpolation (default true) */
  fillGaps?: boolean;
  /** longest gap filled, in sampled frames (default 4) */
  maxGap?: number;
  /** Hz; lower = smoother when still (default 1.5) */
  minCutoff?: number;
  /** per frame-height/s; higher = less lag when moving (default 4) */
  beta?: number;
  /** Hz, derivative cutoff (default 1) */
  dCutoff?: number;
  /** points below this score are missing (default 0.3, DWPose's drawing threshold) */
  scoreThreshold?: number;
  /** frame width / height (default 1) */
  aspect?: number;
}

export interface SmoothReport {
  /** keypoints filled by interpolation */
  filledPoints: number;
  /** frames that had no person and got one from interpolation */
  filledFrames: number[];
}

const DEFAULTS = { smooth: true, fillGaps: true, maxGap: 4, minCutoff: 1.5, beta: 4, dCutoff: 1, scoreThreshold: 0.3, aspect: 1 };

type Part = { get: (p: Pose) => Keypoint[] | null; n: number; name: string };

const PARTS: Part[] = [
  { name: 'body', n: BODY_POINTS, get: (p) => p.body },
  { name: 'left hand', n: HAND_POINTS, get: (p) => p.hands[0] },
  { name: 'right hand', n: HAND_POINTS, get: (p) => p.hands[1] },
  { name: 'face', n: FACE_POINTS, get: (p) => p.face },
];

const alpha = (cutoff: number, dt: number) => {
  const tau = 1 / (2 * Math.PI * cutoff);
  return 1 / (1 + tau / dt);
};

/** One pass of the 2-D One-Euro filter over a run of samples (x, y in isotropic units). */
export function oneEuro(xs: readonly number[], ys: readonly number[], ts: readonly number[], o: { minCutoff: number; beta: number; dCutoff: number }): [number[], number[]] {
  const n = xs.length;
  const fx = new Array<number>(n);
  const fy = new Array<number>(n);
  if (!n) return [fx, fy];
  fx[0] = xs[0]!;
  fy[0] = ys[0]!;
  let dx = 0;
  let dy = 0;
  for (let i = 1; i < n; i++) {
    const dt = Math.max(Math.abs(ts[i]! - ts[i - 1]!), 1e-3);
    const ad = alpha(o.dCutoff, dt);
    dx = ad * ((xs[i]! - fx[i - 1]!) / dt) + (1 - ad) * dx;
    dy = ad * ((ys[i]! - fy[i - 1]!) / dt) + (1 - ad) * dy;
    const a = alpha(o.minCutoff + o.beta * Math.hypot(dx, dy), dt);
    fx[i] = a * xs[i]! + (1 - a) * fx[i - 1]!;
    fy[i] = a * ys[i]! + (1 - a) * fy[i - 1]!;
  }
  return [fx, fy];
}

/** Forward and backward One-Euro, averaged. */
export function oneEuroZeroPhase(xs: readonly number[], ys: readonly number[], ts: readonly number[], o: { minCutoff: number; beta: number; dCutoff: number }): [number[], number[]] {
  const [ax, ay] = oneEuro(xs, ys, ts, o);
  const rev = <T>(a: readonly T[]) => [...a].reverse();
  const [bx, by] = oneEuro(rev(xs), rev(ys), rev(ts), o);
  const n = xs.length;
  return [ax.map((v, i) => (v + bx[n - 1 - i]!) / 2), ay.map((v, i) => (v + by[n - 1 - i]!) / 2)];
}

const clonePose = (p: Pose): Pose => ({
  body: p.body.map((k) => [...k] as Keypoint),
  hands: [p.hands[0].map((k) => [...k] as Keypoint), p.hands[1].map((k) => [...k] as Keypoint)],
  face: p.face ? p.face.map((k) => [...k] as Keypoint) : null,
});

const blank = (n: number): Keypoint[] => Array.from({ length: n }, (): Keypoint => [0, 0, 0]);

/**
 * Cleans a pose track. `times` are the frame times in seconds (same length). Returns new poses (inputs are not
 * modified) and what was filled. Frames without a person stay null unless a short gap was filled.
 */
export function smoothPoses(frames: ReadonlyArray<Pose | null>, times: readonly number[], options: SmoothOptions = {}): { poses: Array<Pose | null>; report: SmoothReport } {
  const o = { ...DEFAULTS, ...options };
  if (times.length !== frames.length) throw new Error(`smoothPoses: ${frames.length} frames but ${times.length} times`);
  const out = frames.map((p) => (p ? clonePose(p) : null));
  const report: SmoothReport = { filledPoints: 0, filledFrames: [] };
  const n = frames.length;

  if (o.fillGaps && o.maxGap > 0) {
    // whole-person gaps first: a null frame between two people ≤ maxGap frames apart becomes an empty pose
    // (all scores 0) whose points the per-keypoint pass below fills.
    for (let i = 0; i < n; i++) {
      if (out[i]) continue;
      let j = i;
      while (j < n && !out[j]) j++;
      if (i > 0 && j < n && j - i <= o.maxGap) {
        for (let k = i; k < j; k++) {
          out[k] = { body: blank(BODY_POINTS), hands: [blank(HAND_POINTS), blank(HAND_POINTS)], face: null };
          report.filledFrames.push(k);
        }
      }
      i = j;
    }
    for (const part of PARTS) {
      for (let j = 0; j < part.n; j++) {
        const present = (i: number) => {
          const pts = out[i] && part.get(out[i]!);
          return !!pts && pts[j]![2] >= o.scoreThreshold;
        };
        let last = -1;
        for (let i = 0; i < n; i++) {
          if (!present(i)) continue;
          if (last >= 0 && i - last > 1 && i - last - 1 <= o.maxGap) {
            const a = part.get(out[last]!)![j]!;
            const b = part.get(out[i]!)![j]!;
            for (let k = last + 1; k < i; k++) {
              const pose = out[k];
              if (!pose) continue; // long person gap: not filled
              if (part.name === 'face' && !pose.face) pose.face = blank(FACE_POINTS);
              const t = (times[k]! - times[last]!) / (times[i]! - times[last]! || 1);
              part.get(pose)![j] = [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, Math.min(a[2], b[2])];
              report.filledPoints++;
            }
          }
          last = i;
        }
      }
    }
    // filled person frames that got no body point back (only hands, say) stay empty poses; drop them
    for (const k of report.filledFrames) {
      if (out[k] && out[k]!.body.every((p) => p[2] < o.scoreThreshold)) out[k] = null;
    }
    report.filledFrames = report.filledFrames.filter((k) => out[k]);
  }

  if (o.smooth) {
    for (const part of PARTS) {
      for (let j = 0; j < part.n; j++) {
        // runs of consecutive frames where the point is present; each run is filtered on its own
        let i = 0;
        while (i < n) {
          const ok = (k: number) => {
            const pts = out[k] && part.get(out[k]!);
            return !!pts && pts[j]![2] >= o.scoreThreshold;
          };
          if (!ok(i)) { i++; continue; }
          let e = i;
          while (e < n && ok(e)) e++;
          if (e - i >= 2) {
            const idx = Array.from({ length: e - i }, (_, k) => i + k);
            const pts = idx.map((k) => part.get(out[k]!)![j]!);
            const [fx, fy] = oneEuroZeroPhase(pts.map((p) => p[0] * o.aspect), pts.map((p) => p[1]), idx.map((k) => times[k]!), o);
            idx.forEach((k, m) => {
              const p = part.get(out[k]!)![j]!;
              p[0] = fx[m]! / o.aspect;
              p[1] = fy[m]!;
            });
          }
          i = e;
        }
      }
    }
  }
  return { poses: out, report };
}
