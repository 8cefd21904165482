// The benchmarks `cnext bench` knows. Each runs in its own child process (see isolate.ts); `args` are
// strings from the command line (--models, --frames…).
import path from 'node:path';
import type { BenchResult } from './isolate.ts';

export interface Benchmark {
  readonly name: string;
  readonly description: string;
  /** Takes --device/--precision (runs its networks there); the others measure the CPU only. */
  readonly onDevice?: boolean;
  /** Runs inside the child process. */
  run(args: Record<string, string>): Promise<BenchResult>;
}

export const BENCHMARKS: readonly Benchmark[] = [
  {
    name: 'conv-peak',
    description: 'plain 3×3 conv 320→320 @ 2×64×64: the machine’s conv GFLOP/s, the yardstick for the networks',
    run: async () => (await import('./micro.ts')).benchConvPeak(),
  },
  {
    name: 'weights-load',
    description: '1 GB fp16 synthetic weights: session creation, first run, RSS — normal mode',
    run: async () => (await import('./micro.ts')).benchWeightsLoad(false),
  },
  {
    name: 'weights-load-lowmem',
    description: '1 GB fp16 synthetic weights: session creation, first run, RSS — low-memory mode',
    run: async () => (await import('./micro.ts')).benchWeightsLoad(true),
  },
  {
    name: 'unet',
    onDevice: true,
    description: 'full-size UNet (+ControlNeXt input), CFG batch 2 (default 14 frames, 256×256; --size/--frames): s/call, first call, RSS, GPU memory',
    run: async (a) => (await import('./networks.ts')).benchUnet(a, false),
  },
  {
    name: 'unet-lowmem',
    onDevice: true,
    description: 'the same UNet call in low-memory mode (fp16 weights stay mmapped)',
    run: async (a) => (await import('./networks.ts')).benchUnet(a, true),
  },
  {
    name: 'unet-flops',
    description: 'FLOPs of that UNet call, counted from an ORT profile (Conv, MatMul, attention)',
    run: async (a) => (await import('./networks.ts')).benchUnetFlops(a),
  },
  {
    name: 'controlnext-overhead',
    onDevice: true,
    description: 'ControlNeXt branch alone, UNet with and without its input: the branch’s share of a UNet call and of a step',
    run: async (a) => (await import('./networks.ts')).benchControlNeXtOverhead(a),
  },
  {
    name: 'sampler',
    onDevice: true,
    description: 'the whole generator at full size: 256×256, 14 frames, 2 steps, 1 window — seconds per stage',
    run: async (a) => (await import('./sampler.ts')).benchSampler(a),
  },
  {
    name: 'job-240',
    onDevice: true,
    description: 'the default job end to end on the device: 240 frames, windows 24/6, 25 steps, 576×1024 (--frames/--size/--steps shrink it)',
    run: async (a) => (await import('./sampler.ts')).benchJob(a),
  },
  {
    name: 'pose',
    description: 'pose extractors at 576×1024 incl. decode: MediaPipe body + hands (worker threads vs one thread) and DWPose (real files with --models, else FLOP-matched synthetic models)',
    run: async (a) => {
      const { benchPose, benchDwpose } = await import('../../pose/bench.ts');
      const r = await benchPose();
      const out: BenchResult = { model: r.model, size: `${r.width}x${r.height}`, speedup: r.speedup ?? 0 };
      for (const run of r.runs) {
        out[`${run.threads}_fps`] = run.fps;
        out[`${run.threads}_cpuMsPerFrame`] = run.cpuMsPerFrame;
        out[`${run.threads}_framesWithBody`] = `${run.framesWithBody}/${run.frames}`;
        out[`${run.threads}_framesWithHand`] = `${run.framesWithHand}/${run.frames}`;
      }
      const { resolvePoseModel } = await import('../../models/pose-model.ts');
      const { benchDir } = await import('./micro.ts');
      const real = a.models ? resolvePoseModel('auto', a.models) : { extractor: 'mediapipe' as const };
      const d = await benchDwpose({
        frames: a.frames ? Number(a.frames) : undefined,
        files: real.extractor === 'dwpose' ? real.files : undefined,
        synthDir: path.join(benchDir(), 'dwpose-synthetic'),
      });
      out.dwpose_models = d.models;
      out.dwpose_fps = d.fps;
      out.dwpose_detMsPerFrame = d.detMsPerFrame;
      out.dwpose_poseMsPerFrame = d.poseMsPerFrame;
      out.dwpose_cpuMsPerFrame = d.cpuMsPerFrame;
      out.dwpose_framesWithBody = `${d.framesWithBody}/${d.frames}`;
      return out;
    },
  },
  {
    name: 'farm',
    description: 'render farm on this machine: items/hour with 1 and 2 `cnext worker`s through a local redis-server (tiny model)',
    run: async () => (await import('./farm.ts')).benchFarm(),
  },
];

export function findBenchmark(name: string): Benchmark | undefined {
  return BENCHMARKS.find((b) => b.name === name);
}
