// Synthetic stand-ins for yolox_l.onnx and dw-ll_ucoco_384.onnx, built with our GraphBuilder, with the real files'
// input/output names, shapes and dtypes (../shared/notes/dwpose.md), so the whole DWPose path runs without the
// weights (tests, demo, bench). They "see" a person when the frame has bright content:
//  * detector: one fixed person box (letterbox coordinates) whose objectness is sigmoid(0.2·(max(input) − 180)):
//    ≈ 1 on a real frame (values up to 255), ≈ 0 on a black one (max = the 114 padding);
//  * pose model: a standing-person template (133 COCO-WholeBody points in crop coordinates) as Gaussian SimCC bumps
//    scaled by sigmoid(8·max(input)): ≈ 1 on a real crop, ≈ 5e-7 on a black one (no keypoint above 0.3).
// `cost: 'real'` adds a stack of 3×3 convolutions of about the real models' compute (YOLOX-L ≈ 155 GFLOPs at
// 640×640, DWPose-l ≈ 20 GFLOPs at 384×288), feeding the output through a ×0, so `cnext bench pose` measures a
// comparable cost. The real networks' layer mix (1×1, depthwise, CSP, attention) runs at a different efficiency.
import fs from 'node:fs';
import path from 'node:path';
import { DataType, GraphBuilder, type Value } from '../../src/onnx/builder.ts';
import { anchorCount, DET_INPUT_HW } from './onnxdet.ts';
import { NUM_KEYPOINTS, SIMCC_SPLIT_RATIO } from './onnxpose.ts';
import { DET_FILE, POSE_FILE } from './open.ts';

/** Names as in the public files (YOLOX export: images → output; RTMPose/mmdeploy export: input → simcc_x, simcc_y). */
export const DET_IO = { input: 'images', output: 'output' } as const;
export const POSE_IO = { input: 'input', outputs: ['simcc_x', 'simcc_y'] } as const;
export const POSE_INPUT_HW: readonly [number, number] = [384, 288];

export interface SynthDwposeOptions {
  /** 'tiny': no extra compute (tests); 'real': conv stacks of about the real models' FLOPs (bench). */
  readonly cost?: 'tiny' | 'real';
  /** Pose model input H×W (default 384×288, as dw-ll_ucoco_384). */
  readonly poseHw?: readonly [number, number];
  /** Detector input dims to declare (default [1, 3, 640, 640]); tests use it to build a wrong model. */
  readonly detDims?: readonly number[];
}

/** Conv stack with about `gflops` GFLOPs: stem 8×8/8 to C channels, then n× (3×3 conv + Relu), mean → scalar. */
function costStack(g: GraphBuilder, x: Value, h: number, w: number, gflops: number, C = 256): Value {
  const hs = Math.floor(h / 8), ws = Math.floor(w / 8);
  const per = (2 * 9 * C * C * hs * ws) / 1e9;
  const n = Math.max(1, Math.round(gflops / per));
  const rnd = (k: number, scale: number) => Float32Array.from({ length: k }, (_, i) => Math.sin(i * 12.9898) * scale);
  let y = g.op('Conv', [x, g.constFloat(rnd(C * 3 * 64, 0.01), [C, 3, 8, 8])], { kernel_shape: [8, 8], strides: [8, 8] });
  const wt = g.constFloat(rnd(C * C * 9, 1 / (3 * C)), [C, C, 3, 3]);
  for (let i = 0; i < n; i++) y = g.op('Relu', [g.op('Conv', [y, wt], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] })]);
  return g.op('ReduceMean', [y], { keepdims: 0 });
}

/** max(input) (+ 0 · the cost stack): the synthetic "is there a person" signal. */
function brightness(g: GraphBuilder, x: Value, h: number, w: number, cost: 'tiny' | 'real', gflops: number): Value {
  const m = g.op('ReduceMax', [x], { keepdims: 0 });
  if (cost === 'tiny') return m;
  return g.op('Add', [m, g.op('Mul', [costStack(g, x, h, w, gflops), g.scalarFloat(0)])]);
}

export function buildSynthDetector(o: SynthDwposeOptions = {}): Uint8Array {
  const [H, W] = DET_INPUT_HW;
  const g = new GraphBuilder(undefined, 'yolox_l_synthetic');
  const x = g.input(DET_IO.input, DataType.FLOAT, o.detDims ?? [1, 3, H, W]);
  const A = anchorCount(), C = 85;
  // one person: centre (180, 320), 240 × 600 in letterbox pixels, at the stride-32 cell (5, 10)
  const base = new Float32Array(A * C), mask = new Float32Array(A * C);
  const stride = 32, cx = 5, cy = 10, anchor = 6400 + 1600 + cy * 20 + cx;
  base.set([180 / stride - cx, 320 / stride - cy, Math.log(240 / stride), Math.log(600 / stride), 0, 1], anchor * C);
  mask[anchor * C + 4] = 1;
  const m = brightness(g, x, H, W, o.cost ?? 'tiny', 155);
  const obj = g.op('Sigmoid', [g.op('Mul', [g.op('Sub', [m, g.scalarFloat(180)]), g.scalarFloat(0.2)])]);
  const out = g.op('Add', [g.constFloat(base, [1, A, C]), g.op('Mul', [g.constFloat(mask, [1, A, C]), obj])]);
  g.output(out, DET_IO.output, DataType.FLOAT, [1, A, C]);
  return g.build({ note: 'synthetic stand-in for yolox_l.onnx (controlnext-motion tests)' }).bytes;
}

/** A standing person in crop coordinates (0..1): COCO-WholeBody 133 points. */
export function templateKeypoints(): Array<[number, number]> {
  const body: Array<[number, number]> = [
    [0.5, 0.17], [0.53, 0.15], [0.47, 0.15], [0.56, 0.16], [0.44, 0.16], [0.62, 0.27], [0.38, 0.27], [0.68, 0.42],
    [0.32, 0.42], [0.7, 0.55], [0.3, 0.55], [0.58, 0.55], [0.42, 0.55], [0.58, 0.72], [0.42, 0.72], [0.58, 0.88], [0.42, 0.88],
  ];
  const feet: Array<[number, number]> = [[0.6, 0.9], [0.61, 0.9], [0.58, 0.9], [0.4, 0.9], [0.39, 0.9], [0.42, 0.9]];
  const face = Array.from({ length: 68 }, (_, i): [number, number] => [0.5 + 0.04 * Math.cos((i / 68) * 2 * Math.PI), 0.17 + 0.05 * Math.sin((i / 68) * 2 * Math.PI)]);
  const hand = (x: number, y: number) => Array.from({ length: 21 }, (_, i): [number, number] => [x + 0.008 * ((i % 5) - 2), y + 0.006 * Math.floor(i / 5)]);
  return [...body, ...feet, ...face, ...hand(0.71, 0.57), ...hand(0.29, 0.57)];
}

export function buildSynthPose(o: SynthDwposeOptions = {}): Uint8Array {
  const [H, W] = o.poseHw ?? POSE_INPUT_HW;
  const K = NUM_KEYPOINTS, bx = Math.round(W * SIMCC_SPLIT_RATIO), by = Math.round(H * SIMCC_SPLIT_RATIO);
  const g = new GraphBuilder(undefined, 'dw-ll_ucoco_384_synthetic');
  const x = g.input(POSE_IO.input, DataType.FLOAT, [1, 3, H, W]);
  const kp = templateKeypoints();
  const bump = (bins: number, at: (k: number) => number) => {
    const t = new Float32Array(K * bins);
    for (let k = 0; k < K; k++) for (let i = 0; i < bins; i++) t[k * bins + i] = Math.exp(-((i - at(k)) ** 2) / 8);
    return t;
  };
  const sx = bump(bx, (k) => kp[k][0] * bx), sy = bump(by, (k) => kp[k][1] * by);
  const p = g.op('Sigmoid', [g.op('Mul', [brightness(g, x, H, W, o.cost ?? 'tiny', 20), g.scalarFloat(8)])]);
  g.output(g.op('Mul', [g.constFloat(sx, [1, K, bx]), p]), POSE_IO.outputs[0], DataType.FLOAT, [1, K, bx]);
  g.output(g.op('Mul', [g.constFloat(sy, [1, K, by]), p]), POSE_IO.outputs[1], DataType.FLOAT, [1, K, by]);
  return g.build({ note: 'synthetic stand-in for dw-ll_ucoco_384.onnx (controlnext-motion tests)' }).bytes;
}

/** Writes both files into `dir` under the real names; returns their paths. */
export function writeSynthDwpose(dir: string, o: SynthDwposeOptions = {}): { det: string; pose: string } {
  fs.mkdirSync(dir, { recursive: true });
  const det = path.join(dir, DET_FILE), pose = path.join(dir, POSE_FILE);
  fs.writeFileSync(det, buildSynthDetector(o));
  fs.writeFileSync(pose, buildSynthPose(o));
  return { det, pose };
}
