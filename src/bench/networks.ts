// Full-size network benchmarks on a synthetic SVD-xt + ControlNeXt model (created on first use with
// `synthesizeModels`; the loaders cannot tell it from the real weights). Defaults follow issue 3:
// CFG batch 2, 14 frames, 256×256 px.
import fs from 'node:fs';
import path from 'node:path';
import { resolvePrecision, type Device, type Precision } from '../core/device.ts';
import { float32, type Float32Tensor } from '../core/tensor.ts';
import type { ControlInput } from '../nets/interfaces.ts';
import { synthesizeModels } from '../../models/synth.ts';
import { loadControlNeXt, resolveControlNeXtConfig } from '../nets/controlnext-svd.ts';
import { loadUnet, resolveUnetConfig } from '../nets/unet-spatio-temporal.ts';
import type { SessionOptions } from '../onnx/session.ts';
import { openWeightFile } from '../weights/open.ts';
import { WeightSource } from '../weights/weight-source.ts';
import { countFlops } from './flops.ts';
import type { BenchResult } from './isolate.ts';
import { benchDir, timeIt } from './micro.ts';

export interface NetBenchArgs {
  models?: string;
  frames?: string;
  size?: string;
  /** cpu | cuda, fp32 | tf32 | fp16, CUDA device number: checked by the CLI (cli/device-flags.ts). */
  device?: string;
  precision?: string;
  gpu?: string;
  steps?: string;
}

/** The session options a benchmark's networks run with, and the labels its result carries. */
export function benchSession(args: NetBenchArgs): { session: SessionOptions; labels: Record<string, string> } {
  const device = (args.device ?? 'cpu') as Device;
  const precision = resolvePrecision(device, args.precision as Precision | undefined);
  const deviceId = args.gpu === undefined ? undefined : Number(args.gpu);
  return {
    session: { provider: device, precision, ...(deviceId !== undefined ? { deviceId } : {}) },
    labels: { device, precision },
  };
}

/** Median of `reps` calls after a first call that is timed on its own (on CUDA it includes cuDNN's algorithm search). */
async function timeFirstAndMedian(fn: () => Promise<unknown>, reps: number): Promise<{ firstCallSec: number; secondsPerCall: number }> {
  const t0 = performance.now();
  await fn();
  const firstCallSec = (performance.now() - t0) / 1000;
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    await fn();
    times.push((performance.now() - t) / 1000);
  }
  times.sort((a, b) => a - b);
  return { firstCallSec, secondsPerCall: times[Math.floor(times.length / 2)] };
}

interface Setup {
  svdDir: string;
  controlnextDir: string;
  frames: number;
  width: number;
  height: number;
}

/** The models root for benchmarks: `--models DIR`, else a synthetic full-size model in the bench cache. */
export function fullSizeModels(args: NetBenchArgs): Setup {
  const root = args.models ?? path.join(benchDir(), 'svd-xt');
  const svdDir = path.join(root, 'svd-xt-1-1');
  const controlnextDir = path.join(root, 'controlnext-svd-v2');
  if (!fs.existsSync(path.join(controlnextDir, 'unet.bin'))) {
    process.stdout.write(`writing a full-size synthetic model to ${root} (once, ~4.5 GB)\n`);
    synthesizeModels(root, { preset: 'svd-xt', seed: 1 });
  }
  const [width, height] = (args.size ?? '256x256').split('x').map(Number);
  return { svdDir, controlnextDir, frames: Number(args.frames ?? 14), width, height };
}

function readJson(file: string): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
}

/** The released ControlNeXt has no config.json (class defaults); a synthetic tiny one has. */
function controlNeXtConfig(s: Setup) {
  const file = path.join(s.controlnextDir, 'config.json');
  return resolveControlNeXtConfig(fs.existsSync(file) ? readJson(file) : {});
}

/** The UNet's weights as the product loads them: base safetensors (if present) overridden by unet.bin. */
export function unetWeights(s: Setup): { weights: WeightSource; bytes: number } {
  const files = [
    path.join(s.svdDir, 'unet', 'diffusion_pytorch_model.fp16.safetensors'),
    path.join(s.controlnextDir, 'unet.bin'),
  ].filter((f) => fs.existsSync(f));
  const weights = WeightSource.merge(files.map((f) => openWeightFile(f)));
  const bytes = weights.names().reduce((a, n) => a + (weights.peek(n)?.length ?? 0), 0);
  return { weights, bytes };
}

function randn(dims: number[], seed: number): Float32Tensor {
  const n = dims.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = (s / 2 ** 32 - 0.5) * 3.4;
  }
  return float32(dims, data);
}

/** Inputs of one CFG denoising call: sample [2,F,8,h,w], embeddings, ids, and the ControlNeXt input. */
function unetInputs(s: Setup, D: number) {
  const h = s.height / 8;
  const w = s.width / 8;
  const F = s.frames;
  return {
    sample: randn([2, F, 8, h, w], 1),
    ehs: randn([2, 1, D], 2),
    ids: float32([2, 3], Float32Array.of(6, 128, 0.02, 6, 128, 0.02)),
    poses: float32([1, F, 3, s.height, s.width], new Float32Array(F * 3 * s.height * s.width).fill(0.2)),
    t: 0.78891,
  };
}

export async function benchUnet(args: NetBenchArgs, lowMemory: boolean): Promise<BenchResult> {
  const s = fullSizeModels(args);
  const { session, labels } = benchSession(args);
  const config = resolveUnetConfig(readJson(path.join(s.svdDir, 'unet', 'config.json')));
  const { weights, bytes } = unetWeights(s);
  const inp = unetInputs(s, config.cross_attention_dim as number);
  const control = await controlFor(s, inp.poses, inp.t, session);
  const t0 = performance.now();
  const unet = await loadUnet(weights, config, { ...session, lowMemory });
  const createSec = (performance.now() - t0) / 1000;
  const { firstCallSec, secondsPerCall } = await timeFirstAndMedian(() => unet.run(inp.sample, inp.t, inp.ehs, inp.ids, control), session.provider === 'cuda' ? 3 : 2);
  await unet.release();
  return {
    mode: lowMemory ? 'low-memory' : 'normal', ...labels, frames: s.frames, size: `${s.width}x${s.height}`, cfgBatch: 2,
    createSec, firstCallSec, secondsPerCall, weightsMB: bytes / 2 ** 20,
  };
}

/** ControlNeXt on the conditional frames; UNet control input for both CFG halves (scale 0 for uncond rows). */
async function controlFor(s: Setup, poses: Float32Tensor, t: number, session: SessionOptions = {}): Promise<ControlInput> {
  const cn = await loadControlNeXt(openWeightFile(path.join(s.controlnextDir, 'controlnet.bin')), controlNeXtConfig(s), session);
  const out = await cn.run(poses, t);
  await cn.release();
  const [rows, C, hc, wc] = out.dims;
  const both = new Float32Array(2 * out.data.length);
  both.set(out.data, 0);
  both.set(out.data, out.data.length);
  const scale = new Float32Array(2 * rows);
  scale.fill(1, rows);
  return { output: float32([2 * rows, C, hc, wc], both), scale: float32([2 * rows], scale) };
}

/** FLOPs of one UNet call, counted from an ORT profile at optimisation level `basic` (see flops.ts). */
export async function benchUnetFlops(args: NetBenchArgs): Promise<BenchResult> {
  const s = fullSizeModels(args);
  const config = resolveUnetConfig(readJson(path.join(s.svdDir, 'unet', 'config.json')));
  const { weights } = unetWeights(s);
  const inp = unetInputs(s, config.cross_attention_dim as number);
  const control = await controlFor(s, inp.poses, inp.t);
  const prefix = path.join(benchDir(), `unet-profile-${process.pid}`);
  // low-memory keeps creation cheap; the profile is only read for shapes
  const unet = await loadUnet(weights, config, { optimization: 'basic', profilePrefix: prefix, lowMemory: true });
  await unet.run(inp.sample, inp.t, inp.ehs, inp.ids, control);
  await unet.release(); // ORT writes the profile when the session ends
  const dir = path.dirname(prefix);
  const file = fs.readdirSync(dir).find((f) => f.startsWith(path.basename(prefix)));
  if (!file) throw new Error('ORT wrote no profile');
  const { total, byOp } = countFlops(path.join(dir, file));
  fs.rmSync(path.join(dir, file));
  return { flops: total, gflop: total / 1e9, ...Object.fromEntries(Object.entries(byOp).map(([k, v]) => [`gflop_${k}`, v / 1e9])) };
}

/**
 * ControlNeXt's share of a denoising step: (ControlNeXt on F frames + UNet with control) vs the plain UNet,
 * both at CFG batch 2, sessions created one after the other.
 */
export async function benchControlNeXtOverhead(args: NetBenchArgs): Promise<BenchResult> {
  const s = fullSizeModels(args);
  const { session, labels } = benchSession(args);
  const reps = session.provider === 'cuda' ? 3 : 2;
  const config = resolveUnetConfig(readJson(path.join(s.svdDir, 'unet', 'config.json')));
  const inp = unetInputs(s, config.cross_attention_dim as number);
  const cn = await loadControlNeXt(openWeightFile(path.join(s.controlnextDir, 'controlnet.bin')), controlNeXtConfig(s), session);
  const controlNeXtSec = await timeIt(() => cn.run(inp.poses, inp.t), 3);
  // the sampler computes the timestep-free stem once per frame per job; per step only the head runs
  const stem = await cn.stem!(inp.poses);
  const controlNeXtStemSec = await timeIt(() => cn.stem!(inp.poses), 3);
  const controlNeXtHeadSec = await timeIt(() => cn.head!(stem, inp.t), 3);
  await cn.release();
  const control = await controlFor(s, inp.poses, inp.t, session);

  let unet = await loadUnet(unetWeights(s).weights, config, session);
  const unetControlSec = await timeIt(() => unet.run(inp.sample, inp.t, inp.ehs, inp.ids, control), reps);
  await unet.release();
  unet = await loadUnet(unetWeights(s).weights, config, { ...session, preload: 'plain' });
  const unetPlainSec = await timeIt(() => unet.run(inp.sample, inp.t, inp.ehs, inp.ids), reps);
  await unet.release();
  return {
    ...labels,
    frames: s.frames,
    size: `${s.width}x${s.height}`,
    controlNeXtSec,
    controlNeXtStemSec,
    controlNeXtHeadSec,
    unetControlSec,
    unetPlainSec,
    stepWithControlSec: controlNeXtSec + unetControlSec,
    stepWithCachedStemSec: controlNeXtHeadSec + unetControlSec,
    stepWithoutControlSec: unetPlainSec,
  };
}
