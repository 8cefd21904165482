// DWPose as a frame detector for the pose pipeline: both ONNX sessions opened once (a missing, corrupt or wrong
// model fails here, before any frame is decoded), one DWposeDetector call per RGB frame, and the first person
// (the detector's highest-scoring box) as a Pose for smoothing, alignment and rendering.
import type { ExecutionProvider } from '../../src/onnx/session.ts';
import { type DwposeFrame, dwposeToPoses, type Pose, SUBSET_SCORE_THRESHOLD } from '../keypoints.ts';
import { type DwposeFiles, openDwpose } from './open.ts';
import { dwposeDetect } from './wholebody.ts';
import type { NetSession } from './net.ts';

export interface DwposeDetectorOptions {
  readonly files: DwposeFiles;
  readonly provider?: ExecutionProvider;
  /** intra-op threads per session (default: all cores) */
  readonly threads?: number;
}

/** What DWPose found in one frame besides the chosen pose. */
export interface DwposeRaw {
  readonly extractor: 'dwpose';
  /** people the reference returns (≥ 1: no detection → the whole image is one "person") */
  readonly people: number;
  /** detector boxes in frame pixels, descending score (empty: nothing detected) */
  readonly boxes: ReadonlyArray<readonly [number, number, number, number]>;
  /** the reference's full result, normalised coordinates */
  readonly frame: DwposeFrame;
}

/**
 * The first person as a Pose (scores ≤ 0 become 0 = missing), or null when none of its body points is visible
 * (score > 0.3) — e.g. a frame without a person, where the reference runs the pose model on the whole image.
 */
export function firstPerson(frame: DwposeFrame): Pose | null {
  if (!frame.people) return null;
  const visible = Array.from(frame.body_score.subarray(0, 18)).some((s) => s > SUBSET_SCORE_THRESHOLD);
  if (!visible) return null;
  const p = dwposeToPoses(frame)[0];
  const clamp = (k: Pose['body']) => k.map(([x, y, s]) => [x, y, s > 0 ? s : 0] as [number, number, number]);
  return { body: clamp(p.body), hands: [clamp(p.hands[0]), clamp(p.hands[1])], face: p.face && clamp(p.face) };
}

export class DwposeDetector {
  private constructor(
    private readonly det: NetSession,
    private readonly pose: NetSession,
    private readonly closeSessions: () => Promise<void>,
  ) {}

  static async create(o: DwposeDetectorOptions): Promise<DwposeDetector> {
    const s = await openDwpose(o.files, { provider: o.provider, threads: o.threads });
    return new DwposeDetector(s.det, s.pose, s.close);
  }

  /** For tests and parity: detector sessions given directly. */
  static fromSessions(det: NetSession, pose: NetSession): DwposeDetector {
    return new DwposeDetector(det, pose, async () => { await det.release?.(); await pose.release?.(); });
  }

  async detect(img: { rgb: Uint8Array; width: number; height: number }): Promise<{ pose: Pose | null; raw: DwposeRaw }> {
    const { frame, debug } = await dwposeDetect(this.det, this.pose, { width: img.width, height: img.height, data: img.rgb });
    return { pose: firstPerson(frame), raw: { extractor: 'dwpose', people: frame.people, boxes: debug.detector.boxes, frame } };
  }

  async close(): Promise<void> {
    await this.closeSessions();
  }
}
