// draw_pose port: the pose_render fixture (per image, with the fixture's own tolerance and bit-exactness), the
// OpenCV primitives on hand-computed cases, and input checks.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CnextError } from '../../src/core/errors.ts';
import { loadCase } from '../../src/parity/case.ts';
import { run as runPoseRender } from '../../src/parity/kinds/pose-render.ts';
import { emptyPose, type DwposeFrame, type Pose, posesToDwpose } from '../../pose/keypoints.ts';
import { canvasSize, drawPose, hsvToRgb, PoseRenderer, renderPoses } from '../../pose/render.ts';
import { type Canvas, createCanvas, cvRound } from '../../pose/raster/canvas.ts';
import { circleFilled } from '../../pose/raster/circle.ts';
import { ellipse2Poly, SIN_TABLE } from '../../pose/raster/ellipse.ts';
import { fillConvexPoly } from '../../pose/raster/fill-convex-poly.ts';
import { line } from '../../pose/raster/line.ts';
import { line8 } from '../../pose/raster/thin-line.ts';
import { resizeLinearU8 } from '../../pose/raster/resize.ts';
import { fixturesDir } from '../parity/fixtures-dir.ts';

const RED = [255, 0, 0] as const;

/** Set pixels (any channel non-zero) as "x,y" strings, sorted. */
function lit(img: Canvas): string[] {
  const out: string[] = [];
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      const p = (y * img.width + x) * 3;
      if (img.data[p] || img.data[p + 1] || img.data[p + 2]) out.push(`${x},${y}`);
    }
  }
  return out;
}

function rowSpans(img: Canvas): Map<number, [number, number]> {
  const spans = new Map<number, [number, number]>();
  for (const s of lit(img)) {
    const [x, y] = s.split(',').map(Number);
    const r = spans.get(y);
    spans.set(y, r ? [Math.min(r[0], x), Math.max(r[1], x)] : [x, x]);
  }
  return spans;
}

describe('pose_render fixture', () => {
  const c = loadCase(path.join(fixturesDir(), 'pose_render'));

  it('passes every image within the fixture tolerance, bit-exact', async () => {
    const checks = await runPoseRender(c);
    const canvases = (c.json.inputs.canvases as { poses: number[] }[]).reduce((n, cv) => n + cv.poses.length, 0);
    expect(checks).toHaveLength(canvases);
    for (const k of checks) {
      console.log(`${k.name}: mean_abs=${k.meanAbs} max_abs=${k.maxAbs} ${k.detail ?? ''}`);
      expect(k.pass, `${k.name} ${k.detail}`).toBe(true);
      expect(k.maxAbs, k.name).toBe(0);
    }
  });

  it('gives the same image from a re-used renderer as from a fresh one', () => {
    const frame = (p: number): DwposeFrame => {
      const g = (k: string) => c.io.get(`in.p${p}.${k}`)!.data as Float32Array;
      return { people: c.io.get(`in.p${p}.subset`)!.dims[0], candidate: g('candidate'), subset: g('subset'), body_score: g('body_score'),
        hands: g('hands'), hands_score: g('hands_score'), faces: g('faces'), faces_score: g('faces_score') };
    };
    const r = new PoseRenderer(512, 512);
    r.renderChw(frame(3));
    expect(r.renderChw(frame(0)).data).toEqual(c.io.get('out.p0.h512w512')!.data);
  });

  it('fails an image that differs (the check is not vacuous)', async () => {
    const ref = c.io.get('out.p0.h512w512')!;
    const got = Uint8Array.from(ref.data as Uint8Array);
    const { checkImage } = await import('../../src/parity/kinds/pose-render.ts');
    expect(checkImage('x', ref.data as Uint8Array, got, 512 * 512, { mean_abs: 0.295, max_mismatch_fraction: 0.00745 }).pass).toBe(true);
    for (let i = 0; i < 512 * 40; i++) got[i] = 255 - got[i]; // invert 40 rows of the red plane
    const k = checkImage('x', ref.data as Uint8Array, got, 512 * 512, { mean_abs: 0.295, max_mismatch_fraction: 0.00745 });
    expect(k.pass).toBe(false);
    expect(k.detail).toMatch(/^mean_abs .* > 0\.295, mismatch 0\.0781 > 0\.00745$/);
  });
});

describe('ellipse2Poly', () => {
  it('uses OpenCV’s 7-digit sine table', () => {
    expect(SIN_TABLE[0]).toBe(0);
    expect(SIN_TABLE[1]).toBe(Math.fround(0.0174524));
    expect(SIN_TABLE[45]).toBe(Math.fround(0.7071068));
    expect(SIN_TABLE[90]).toBe(1);
    expect(SIN_TABLE[270]).toBe(-1);
    expect(SIN_TABLE[450]).toBe(1);
  });

  it('gives the quarter points of a rotated ellipse (angle 90, delta 90)', () => {
    expect(ellipse2Poly([10, 20], [10, 4], 90, 0, 360, 90)).toEqual([[10, 30], [6, 20], [10, 10], [14, 20], [10, 30]]);
  });

  it('rounds points and keeps the 45° steps (angle 0, delta 45)', () => {
    expect(ellipse2Poly([0, 0], [3, 1], 0, 0, 360, 45)).toEqual([
      [3, 0], [2, 1], [0, 1], [-2, 1], [-3, 0], [-2, -1], [0, -1], [2, -1], [3, 0],
    ]);
  });

  it('normalises negative angles like OpenCV (−90 ≡ 270)', () => {
    expect(ellipse2Poly([5, 5], [7, 2], -90, 0, 360, 1)).toEqual(ellipse2Poly([5, 5], [7, 2], 270, 0, 360, 1));
  });

  it('drops consecutive duplicates of a delta-1 limb ellipse and closes it', () => {
    const pts = ellipse2Poly([100, 80], [40, 4], 37, 0, 360, 1);
    expect(pts[0]).toEqual(pts[pts.length - 1]);
    for (let i = 1; i < pts.length; i++) expect(pts[i]).not.toEqual(pts[i - 1]);
    expect(pts.length).toBeLessThan(361);
    const a = (37 * Math.PI) / 180;
    for (const [x, y] of pts) {
      const u = (x - 100) * Math.cos(a) + (y - 80) * Math.sin(a), v = -(x - 100) * Math.sin(a) + (y - 80) * Math.cos(a);
      // rounding moves a point by at most √½ px
      expect(Math.abs(u)).toBeLessThanOrEqual(40.71);
      expect(Math.abs(v)).toBeLessThanOrEqual(4.71);
    }
  });

  it('turns a zero-size ellipse into two copies of the centre', () => {
    expect(ellipse2Poly([3, 4], [0, 0], 0, 0, 360, 1)).toEqual([[3, 4], [3, 4]]);
  });
});

describe('filled circle (OpenCV Circle)', () => {
  it.each([[0, 1], [1, 5], [3, 29], [4, 49]])('radius %i covers %i pixels', (r, n) => {
    const img = createCanvas(20, 20);
    circleFilled(img, 10, 10, r, RED);
    expect(lit(img)).toHaveLength(n);
  });

  it('has the midpoint-walk row spans for radius 4', () => {
    const img = createCanvas(20, 20);
    circleFilled(img, 10, 10, 4, RED);
    const widths = [...rowSpans(img)].sort((a, b) => a[0] - b[0]).map(([, [l, r]]) => r - l + 1);
    expect(widths).toEqual([1, 5, 7, 7, 9, 7, 7, 5, 1]);
  });

  it('clips at the image border', () => {
    const img = createCanvas(10, 10);
    circleFilled(img, 0, 0, 4, RED);
    expect(lit(img)).toHaveLength(5 + 4 + 4 + 3 + 1);
  });
});

describe('lines and polygons', () => {
  it('draws an 8-connected Bresenham line', () => {
    const img = createCanvas(6, 4);
    line8(img, [4, 2], [0, 0], RED);
    expect(lit(img)).toEqual(['0,0', '1,0', '2,1', '3,1', '4,2']);
  });

  it('clips a line that leaves the image', () => {
    const img = createCanvas(5, 5);
    line8(img, [-3, 2], [10, 2], RED);
    expect(lit(img)).toEqual(['0,2', '1,2', '2,2', '3,2', '4,2']);
  });

  it('fills a rectangle including its border', () => {
    const img = createCanvas(8, 6);
    fillConvexPoly(img, [[1, 1], [5, 1], [5, 3], [1, 3]], RED);
    expect(lit(img)).toHaveLength(15);
    expect(rowSpans(img)).toEqual(new Map([[1, [1, 5]], [2, [1, 5]], [3, [1, 5]]]));
  });

  it('fills a polygon reaching far above the image without walking every row', () => {
    const img = createCanvas(20, 20);
    const t0 = performance.now();
    fillConvexPoly(img, [[-5, -50_000_000], [15, 10], [2, 18]], RED);
    expect(performance.now() - t0).toBeLessThan(200);
    const spans = rowSpans(img);
    expect([...spans.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: 19 }, (_, y) => y));
    for (const [, [l, r]] of spans) expect(r).toBeGreaterThanOrEqual(l);
  });

  it('draws a thickness-2 line as a 3-px band with radius-1 caps', () => {
    const img = createCanvas(12, 10);
    line(img, [2, 5], [8, 5], RED, 2);
    expect(rowSpans(img)).toEqual(new Map([[4, [2, 8]], [5, [1, 9]], [6, [2, 8]]]));
    expect(lit(img)).toHaveLength(23);
  });

  it('rounds colours like saturate_cast (half to even)', () => {
    expect([cvRound(2.5), cvRound(3.5), cvRound(-2.5), cvRound(2.4999)]).toEqual([2, 4, -2, 2]);
  });
});

describe('INTER_LINEAR resize', () => {
  it('keeps a constant image constant', () => {
    for (const v of [1, 77, 200, 255]) {
      const src = createCanvas(37, 23);
      src.data.fill(v);
      const dst = resizeLinearU8(src, 10, 7);
      expect(new Set(dst.data)).toEqual(new Set([v]));
    }
  });

  it('averages 2×2 blocks with rounding for an exact halving (OpenCV switches to INTER_AREA)', () => {
    const src = createCanvas(2, 2);
    src.data.set([10, 0, 0, 11, 0, 0, 11, 0, 0, 11, 0, 1]);
    const dst = resizeLinearU8(src, 1, 1);
    expect([...dst.data]).toEqual([(10 + 11 + 11 + 11 + 2) >> 2, 0, (1 + 2) >> 2]);
  });

  it('interpolates with 11-bit weights and the SIMD rounding', () => {
    // 4 → 3 columns, one row (b0 = 2048, b1 = 0): x weights 1707/341, 1024/1024, 341/1707
    const src = createCanvas(4, 1);
    src.data.set([0, 0, 0, 60, 60, 60, 120, 120, 120, 250, 250, 251]);
    const got = resizeLinearU8(src, 3, 1).data;
    const S = (s0: number, s1: number, a0: number, a1: number) => s0 * a0 + s1 * a1;
    // 9 values: the first 8 take the 8-lane SIMD kernel, the 9th the scalar FixedPtCast
    const simd = (s: number) => ((((s >> 4) * 2048) >> 16) + 2) >> 2;
    const scalar = (s: number) => (s * 2048 + (1 << 21)) >> 22;
    expect([...got]).toEqual([
      ...[0, 0, 0].map(() => simd(S(0, 60, 1707, 341))),
      ...[0, 0, 0].map(() => simd(S(60, 120, 1024, 1024))),
      simd(S(120, 250, 341, 1707)), simd(S(120, 250, 341, 1707)), scalar(S(120, 251, 341, 1707)),
    ]);
    expect([...got]).toEqual([10, 10, 10, 90, 90, 90, 228, 228, 229]);
  });
});

describe('draw_pose', () => {
  it('sizes the canvas from ref_w / min(H, W)', () => {
    expect(canvasSize(1024, 576)).toEqual({ width: 2160, height: 3840 });
    expect(canvasSize(192, 128)).toEqual({ width: 2160, height: 3240 });
    expect(canvasSize(256, 192, 192)).toEqual({ width: 192, height: 256 });
  });

  it('uses matplotlib’s hsv_to_rgb for hand edges', () => {
    expect(hsvToRgb(0, 1, 1)).toEqual([1, 0, 0]);
    expect(hsvToRgb(0.5, 1, 1)).toEqual([0, 1, 1]);
    expect(hsvToRgb(0.05, 1, 1)).toEqual([1, 0.30000000000000004, 0]);
  });

  it('draws nothing for an empty pose and something for one limb', () => {
    const none = renderPoses([emptyPose()], 64, 48, 48);
    expect(none.data.every((v) => v === 0)).toBe(true);
    const p: Pose = emptyPose();
    p.body[1] = [0.5, 0.3, 0.9]; // neck
    p.body[2] = [0.3, 0.35, 0.9]; // right shoulder
    const img = renderPoses([p], 64, 48, 48); // ref_w = min(H, W): no scaling
    const at = (x: number, y: number) => [...img.data.subarray((y * 48 + x) * 3, (y * 48 + x) * 3 + 3)];
    // limb 0 colour [255, 0, 0]·float32(0.9·0.9) = 206, ×0.6 → 123, drawn into "BGR" → blue after BGR→RGB
    expect(at(19, 21)).toEqual([0, 0, 123]);
    // neck joint on top: [255, 85, 0]·0.9 → (229, 76, 0) → RGB (0, 76, 229)
    expect(at(24, 19)).toEqual([0, 76, 229]);
    expect(lit(img).length).toBeGreaterThan(60);
  });

  it('returns CHW RGB of the drawn canvas', () => {
    // nose joint only: colour [255, 0, 0] drawn as BGR → blue
    const t = drawPose(
      { people: 1, candidate: new Float32Array(36).fill(-1).fill(0.5, 0, 2), subset: Float32Array.from({ length: 18 }, (_, j) => (j === 0 ? 0 : -1)),
        body_score: new Float32Array(18).fill(0).fill(1, 0, 1), hands: new Float32Array(84), hands_score: new Float32Array(42),
        faces: new Float32Array(136), faces_score: new Float32Array(68) },
      32, 32, 32,
    );
    expect(t.dims).toEqual([3, 32, 32]);
    const n = 32 * 32, centre = 16 * 32 + 16;
    expect([t.data[centre], t.data[n + centre], t.data[2 * n + centre]]).toEqual([0, 0, 255]);
  });

  it('rejects malformed frames and sizes', () => {
    const bad = { people: 1, candidate: new Float32Array(10), subset: new Float32Array(18), body_score: new Float32Array(18),
      hands: new Float32Array(84), hands_score: new Float32Array(42), faces: new Float32Array(136), faces_score: new Float32Array(68) } as DwposeFrame;
    expect(() => drawPose(bad, 32, 32)).toThrow(CnextError);
    expect(() => drawPose(bad, 32, 32)).toThrow('DWPose frame with 1 people: candidate needs 36 values, got 10');
    expect(() => new PoseRenderer(0, 32)).toThrow('draw_pose height must be a positive integer, got 0');
    const nan = { ...bad, candidate: new Float32Array(36).fill(Number.NaN) };
    expect(() => drawPose(nan, 32, 32)).toThrow('DWPose frame: candidate[0] is NaN (coordinates and scores must be finite)');
    const far = posesToDwpose([emptyPose()]);
    far.candidate.set([1e7, 0.5, 1e7, 0.6], 2);
    far.body_score.set([0.9, 0.9], 1);
    far.subset.set([1, 2], 1);
    expect(() => drawPose(far, 512, 512)).toThrow('body limb 2-3 of person 0 lies at pixel 21600000000, which is not a finite 32-bit coordinate');
  });

  it('saturates colours of scores above 1 like cv2', () => {
    const f = posesToDwpose([emptyPose()]);
    f.candidate.set([0.5, 0.5], 0);
    f.body_score[0] = 2;
    f.subset[0] = 0;
    const t = drawPose(f, 16, 16, 16);
    expect(t.data[2 * 256 + 8 * 16 + 8]).toBe(255);
  });
});
