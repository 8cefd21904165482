// The DWPose steps one by one, on cases small enough to reason about (the fixtures pin them on real data):
// cv2-style affine crop, warp matrix, SimCC decoding, NMS with the +1 convention, the whole-body assembly.
import { describe, expect, it } from 'vitest';
import { decodeOutput, multiclassNms, nms, personBoxes, preprocess as letterbox } from '../../../pose/dwpose/onnxdet.ts';
import { boxCenterScale, decodeSimcc, getWarpMatrix, NUM_KEYPOINTS } from '../../../pose/dwpose/onnxpose.ts';
import { assembleWholebody, toDwposeFrame } from '../../../pose/dwpose/wholebody.ts';
import { firstPerson } from '../../../pose/dwpose/detector.ts';
import { getAffineTransform, warpAffineLinearU8 } from '../../../pose/raster/warp-affine.ts';

const img = (w: number, h: number) => ({ width: w, height: h, data: Uint8Array.from({ length: w * h * 3 }, (_, i) => (i * 37) % 256) });

describe('cv2.warpAffine / getAffineTransform', () => {
  it('identity copies, an integer shift moves with a black border', () => {
    const a = img(7, 5);
    expect(warpAffineLinearU8(a, [1, 0, 0, 0, 1, 0], 7, 5).data).toEqual(a.data);
    const s = warpAffineLinearU8(a, [1, 0, 2, 0, 1, 1], 7, 5); // dst(x, y) = src(x − 2, y − 1)
    for (let y = 0; y < 5; y++) {
      for (let x = 0; x < 7; x++) {
        for (let c = 0; c < 3; c++) {
          const want = x >= 2 && y >= 1 ? a.data[((y - 1) * 7 + x - 2) * 3 + c] : 0;
          expect(s.data[(y * 7 + x) * 3 + c]).toBe(want);
        }
      }
    }
  });

  it('a half-pixel shift averages neighbours with weights from the 1/32 table', () => {
    const a = { width: 2, height: 1, data: Uint8Array.from([0, 0, 0, 100, 50, 255]) };
    const s = warpAffineLinearU8(a, [1, 0, -0.5, 0, 1, 0], 1, 1);
    expect([...s.data]).toEqual([50, 25, 128]); // (v·16384 + 2^14) >> 15
  });

  it('the box warp is [[k, 0, tx], [0, k, ty]] to the last bits or so, and maps the box centre to the crop centre', () => {
    const { center, scale } = boxCenterScale([10.5, 20.25, 110.75, 300.5], 288 / 384);
    const M = getWarpMatrix(center, scale, 288, 384);
    const k = 288 / scale[0];
    expect(M[0]).toBeCloseTo(k, 12);
    expect(M[4]).toBeCloseTo(k, 12);
    expect(Math.abs(M[1]) + Math.abs(M[3])).toBeLessThan(1e-12);
    expect(M[0] * center[0] + M[1] * center[1] + M[2]).toBeCloseTo(144, 3);
    expect(M[3] * center[0] + M[4] * center[1] + M[5]).toBeCloseTo(192, 3);
    expect(() => getAffineTransform([[0, 0], [1, 1], [2, 2]], [[0, 0], [1, 0], [0, 1]])).toThrow('collinear');
  });
});

describe('YOLOX decoding and NMS', () => {
  it('letterbox: ratio, truncated size, 114 padding', () => {
    const l = letterbox(img(100, 50));
    expect(l.ratio).toBe(6.4);
    expect([l.resized.width, l.resized.height]).toEqual([640, 320]);
    expect(l.input.dims).toEqual([1, 3, 640, 640]);
    expect(l.input.data[640 * 639]).toBe(114);
  });

  it('+1 pixel convention: IoU computed on (x1 − x0 + 1)(y1 − y0 + 1), suppressed only above 0.45', () => {
    // two 10×10 boxes (11×11 with +1) overlapping by 7 columns (8 with +1): IoU = 88 / (121 + 121 − 88) = 0.571
    const boxes = Float32Array.from([0, 0, 10, 10, 3, 0, 13, 10, 30, 30, 40, 40]);
    expect(nms(boxes, [0, 1, 2], [0.9, 0.8, 0.7], 0.45)).toEqual([0, 2]);
    expect(nms(boxes, [0, 1, 2], [0.9, 0.8, 0.7], 0.6)).toEqual([0, 1, 2]);
  });

  it('anchor decoding, per-class NMS, person filter at > 0.3', () => {
    const raw = new Float32Array(8400 * 85);
    const put = (a: number, row: number[]) => raw.set(row, a * 85);
    const cls = (c: number, p: number) => Object.assign(new Array(80).fill(0), { [c]: p });
    put(0, [0.5, 0.5, 0, 0, 0.9, ...cls(0, 1)]); // stride 8 cell (0, 0): centre (4, 4), 8 × 8
    put(6400 + 41, [0, 0, Math.log(2), 0, 0.5, ...cls(2, 0.9)]); // stride 16 cell (1, 1): a car, 32 × 16 at (16, 16)
    put(8000 + 0, [0, 0, 0, 0, 0.5, ...cls(0, 0.5)]); // a person at 0.25: kept by NMS, dropped by the 0.3 filter
    const d = decodeOutput({ type: 'float32', dims: [1, 8400, 85], data: raw }, 0.5);
    const dets = multiclassNms(d)!;
    expect(dets.map((x) => [x.cls, Math.fround(x.score)])).toEqual([[0, Math.fround(0.9)], [0, 0.25], [2, Math.fround(0.45)]]);
    expect(dets[0]!.box).toEqual([0, 0, 16, 16]); // (4 ± 4) / 0.5
    expect(dets[2]!.box).toEqual([0, 16, 64, 48]);
    expect(personBoxes(dets)).toEqual([[0, 0, 16, 16]]);
    expect(multiclassNms(decodeOutput({ type: 'float32', dims: [1, 8400, 85], data: new Float32Array(8400 * 85) }, 1))).toBeNull();
  });
});

describe('SimCC and the whole-body assembly', () => {
  it('first maximum, score = smaller maximum, −1 where the score is ≤ 0, split ratio 2', () => {
    const K = 3;
    const x = Float32Array.from([0, 0.7, 0.7, 0, /**/ 0.2, 0, 0, 0, /**/ -1, -2, -1, -3]);
    const y = Float32Array.from([0, 0, 0.5, 0, /**/ 0, 0, 0, 0.9, /**/ -1, -1, -1, -1]);
    const { locs, scores } = decodeSimcc(x, y, K);
    expect([...locs]).toEqual([0.5, 1, 0, 1.5, -0.5, -0.5]);
    expect([...scores]).toEqual([0.5, Math.fround(0.2), -1]);
  });

  it('neck between the shoulders (score 1 only if both > 0.3), OpenPose order, hands left then right', () => {
    const N = 2, K = NUM_KEYPOINTS;
    const keypoints = new Float64Array(N * K * 2), scores = new Float32Array(N * K);
    for (let n = 0; n < N; n++) {
      for (let k = 0; k < K; k++) {
        keypoints[(n * K + k) * 2] = 1000 * n + k;
        keypoints[(n * K + k) * 2 + 1] = 2 * k;
        scores[n * K + k] = 0.9;
      }
    }
    scores[K + 6] = 0.29; // person 1: right shoulder not visible → neck score 0 (float32(0.3) itself would count)
    const wb = assembleWholebody({ keypoints, scores, people: N });
    const f = toDwposeFrame(wb, N, 2000, 1000);
    // body 1 = neck = mean of COCO 5 and 6; body 2 = right shoulder (COCO 6); body 5 = left shoulder (COCO 5)
    expect([f.candidate[2], f.candidate[3]]).toEqual([5.5 / 2000, 11 / 1000]);
    expect([f.candidate[4], f.candidate[10]]).toEqual([6 / 2000, 5 / 2000]);
    expect(f.body_score[1]).toBe(1);
    expect(f.body_score[18 + 1]).toBe(0);
    expect(f.subset[18 + 1]).toBe(-1);
    expect(f.subset[18 + 0]).toBe(18);
    // hands: rows 0..1 = left hands (COCO 91..111) of persons 0, 1; rows 2..3 = right hands (112..132)
    expect(f.hands[0]).toBe(91 / 2000);
    expect(f.hands[21 * 2]).toBe((1000 + 91) / 2000);
    expect(f.hands[2 * 21 * 2]).toBe(112 / 2000);
    expect(f.faces[0]).toBe(23 / 2000);
    expect(firstPerson(f)!.body[0]).toEqual([0, 0, Math.fround(0.9)]);
  });
});
