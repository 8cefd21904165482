// Micro-benchmarks that need no model: the machine's conv peak (the yardstick for network GFLOP/s) and
// the cost of loading 1 GB of fp16 weights in normal vs low-memory mode.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DataType, GraphBuilder } from '../onnx/builder.ts';
import { Session } from '../onnx/session.ts';
import { conv, linear } from '../nets/nn.ts';
import { openSafetensors } from '../weights/safetensors.ts';
import { writeSyntheticSafetensors } from '../weights/synthetic.ts';
import type { BenchResult } from './isolate.ts';

export function benchDir(): string {
  const dir = path.join(process.env.CNEXT_CACHE ?? path.join(os.homedir(), '.cache', 'controlnext-motion'), 'bench');
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

/** Median of `reps` timed calls after one warm-up, seconds. */
export async function timeIt(fn: () => Promise<unknown>, reps: number): Promise<number> {
  await fn();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    times.push((performance.now() - t0) / 1000);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

/** A plain 3×3 conv, 320→320 channels at 64×64, batch 2: the best case for the CPU's conv kernels. */
export async function benchConvPeak(): Promise<BenchResult> {
  const file = path.join(benchDir(), 'conv320.safetensors');
  if (!fs.existsSync(file)) writeSyntheticSafetensors(file, [{ name: 'c.weight', shape: [320, 320, 3, 3] }, { name: 'c.bias', shape: [320] }], { dtype: 'F32' });
  const g = new GraphBuilder(openSafetensors(file));
  const x = g.input('x', DataType.FLOAT, [2, 320, 64, 64]);
  g.output(conv(g, 'c', x, { inC: 320, outC: 320, kernel: 3, pad: 1 }), 'y', DataType.FLOAT, [2, 320, 64, 64]);
  const s = await Session.create(g.build());
  const input = { type: 'float32' as const, dims: [2, 320, 64, 64], data: new Float32Array(2 * 320 * 64 * 64).fill(0.1) };
  const sec = await timeIt(() => s.run({ x: input }), 5);
  await s.release();
  const flops = 2 * 2 * 320 * 64 * 64 * 320 * 9;
  return { seconds: sec, gflops: flops / sec / 1e9, threads: os.availableParallelism() };
}

/** 1 GB of fp16 weights (16 × [4096, 8192]) as Linear layers; session creation and first run. */
export async function benchWeightsLoad(lowMemory: boolean): Promise<BenchResult> {
  const file = path.join(benchDir(), 'weights-1gb.fp16.safetensors');
  const n = 16;
  if (!fs.existsSync(file)) {
    writeSyntheticSafetensors(file, Array.from({ length: n }, (_, i) => ({ name: `l${i}.weight`, shape: [4096, 8192] })), { dtype: 'F16' });
  }
  const g = new GraphBuilder(openSafetensors(file));
  const x = g.input('x', DataType.FLOAT, ['n', 8192]);
  let sum = linear(g, 'l0', x, 8192, 4096, false);
  for (let i = 1; i < n; i++) sum = g.op('Add', [sum, linear(g, `l${i}`, x, 8192, 4096, false)]);
  g.output(sum, 'y', DataType.FLOAT, ['n', 4096]);
  const built = g.build();
  const rssBefore = process.memoryUsage().rss;
  const t0 = performance.now();
  const s = await Session.create(built, { lowMemory });
  const createSec = (performance.now() - t0) / 1000;
  const rssAfterCreate = process.memoryUsage().rss;
  const input = { type: 'float32' as const, dims: [4, 8192], data: new Float32Array(4 * 8192).fill(0.01) };
  const t1 = performance.now();
  await s.run({ x: input });
  const firstRunSec = (performance.now() - t1) / 1000;
  const runSec = await timeIt(() => s.run({ x: input }), 3);
  await s.release();
  return {
    mode: lowMemory ? 'low-memory' : 'normal',
    fileMB: fs.statSync(file).size / 2 ** 20,
    createSec,
    firstRunSec,
    runSec,
    rssAfterCreateMB: (rssAfterCreate - rssBefore) / 2 ** 20,
  };
}
