// The sampler's ControlNeXt stem cache: each pose frame's timestep-free stem is computed once per job (within the
// byte budget), only the head runs per step, and the latents are exactly those of the uncached path.
import { describe, expect, it } from 'vitest';
import { float32 } from '../../src/core/tensor.ts';
import { linspaceF32 } from '../../src/diffusion/guidance.ts';
import { poseSourceFromFrames, sample } from '../../src/diffusion/sampler.ts';
import { EulerDiscreteScheduler } from '../../src/diffusion/scheduler.ts';
import { planWindows } from '../../src/diffusion/windows.ts';
import { fakeSplitControlNeXt, fakeUnet, newLog, SVD_SCHEDULER_CONFIG, testImages } from './fakes.ts';

const F = 10;
const H = 32;
const W = 32;
const STEPS = 3;
const FPB = 4;
/** Bytes of one fake stem row: 4 channels at H/16 × W/16, float32. */
const ROW_BYTES = 4 * (H / 16) * (W / 16) * 4;

async function run(stemCacheBytes: number) {
  const log = newLog();
  const stemRows: number[] = [];
  const scheduler = new EulerDiscreteScheduler(SVD_SCHEDULER_CONFIG);
  scheduler.setTimesteps(STEPS);
  const { poses } = testImages(F + 1, H, W);
  const latents = float32([1, F, 4, H / 8, W / 8]);
  for (let i = 0; i < latents.data.length; i++) latents.data[i] = Math.sin(i * 0.37) * 3;
  const imageLatents = float32([1, 4, H / 8, W / 8]);
  for (let i = 0; i < imageLatents.data.length; i++) imageLatents.data[i] = Math.cos(i * 0.11);
  const out = await sample({
    unet: fakeUnet(log), controlnext: fakeSplitControlNeXt(log, stemRows), scheduler, latents, firstStep: 0,
    imageEmbedding: float32([1, 8], Float32Array.from({ length: 8 }, (_, i) => i / 8)), imageLatents,
    poses: poseSourceFromFrames(poses, F + 1), height: H, width: W, plan: planWindows(F, FPB, 1),
    guidance: linspaceF32(1, 3, FPB), cfg: true, controlStrength: 1, stemCacheBytes,
  });
  return { out, stemRows, headRows: log.controlnext, released: log.released };
}

describe('sampler: ControlNeXt stem cache', () => {
  it('computes each frame’s stem once per job and gives the uncached latents exactly', async () => {
    const off = await run(0);
    const on = await run(1e9);
    expect(Buffer.from(on.out.data.buffer).equals(Buffer.from(off.out.data.buffer))).toBe(true);
    // frames 0 … F−1 (pose frame 0 and the driving frames the windows use), each once
    expect(on.stemRows.reduce((a, b) => a + b, 0)).toBe(F);
    expect(on.headRows).toEqual(off.headRows); // the head still runs per step on the same rows
    // once every frame's stem is held, the stem's session is let go (it would only hold memory)
    expect(on.released).toContain('controlnext-stem');
    expect(off.released).not.toContain('controlnext-stem');
    expect(off.stemRows.reduce((a, b) => a + b, 0)).toBe(off.headRows.reduce((a, b) => a + b, 0));
    expect(off.stemRows.reduce((a, b) => a + b, 0)).toBeGreaterThan(STEPS * F - 1);
  });

  it('a budget of a few rows keeps the first frames and recomputes the rest, with the same latents', async () => {
    const off = await run(0);
    const some = await run(3 * ROW_BYTES);
    expect(Buffer.from(some.out.data.buffer).equals(Buffer.from(off.out.data.buffer))).toBe(true);
    const perStep = off.stemRows.reduce((a, b) => a + b, 0) / STEPS;
    expect(some.stemRows.reduce((a, b) => a + b, 0)).toBe(perStep + (STEPS - 1) * (perStep - 3));
    expect(some.released).not.toContain('controlnext-stem');
  });
});
