// The benchmarks `cnext bench` knows. Each runs in its own child process (see isolate.ts); `args` are
// strings from the command line (--models, --frames…).
import type { BenchResult } from './isolate.ts';

export interface Benchmark {
  readonly name: string;
  readonly description: string;
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
    description: 'full-size UNet (+ControlNeXt input), CFG batch 2, 14 frames, 256×256: s/call, RSS — normal mode',
    run: async (a) => (await import('./networks.ts')).benchUnet(a, false),
  },
  {
    name: 'unet-lowmem',
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
    description: 'ControlNeXt branch + injection vs the plain UNet, per denoising step',
    run: async (a) => (await import('./networks.ts')).benchControlNeXtOverhead(a),
  },
  {
    name: 'sampler',
    description: 'the whole generator at full size: 256×256, 14 frames, 2 steps, 1 window — seconds per stage',
    run: async (a) => (await import('./sampler.ts')).benchSampler(a),
  },
  {
    name: 'pose',
    description: 'MediaPipe body + hands at 576×1024 incl. decode: frames/s, worker threads vs one thread',
    run: async () => {
      const { benchPose } = await import('../../pose/bench.ts');
      const r = await benchPose();
      const out: BenchResult = { model: r.model, size: `${r.width}x${r.height}`, speedup: r.speedup ?? 0 };
      for (const run of r.runs) {
        out[`${run.threads}_fps`] = run.fps;
        out[`${run.threads}_cpuMsPerFrame`] = run.cpuMsPerFrame;
        out[`${run.threads}_framesWithBody`] = `${run.framesWithBody}/${run.frames}`;
        out[`${run.threads}_framesWithHand`] = `${run.framesWithHand}/${run.frames}`;
      }
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
