// ControlNeXtSDVModel split at the timestep: the stem graph (timestep-free) and the head graph compose to exactly
// the full graph, on real ORT sessions over the `controlnext` fixture's weights.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asFloat32, float32, type Float32Tensor } from '../../src/core/tensor.ts';
import type { ControlNeXt } from '../../src/nets/interfaces.ts';
import { buildControlNeXt, loadControlNeXt, resolveControlNeXtConfig } from '../../src/nets/controlnext-svd.ts';
import { Session } from '../../src/onnx/session.ts';
import { loadCase } from '../../src/parity/case.ts';
import { openWeightFile } from '../../src/weights/open.ts';
import { fixturesDir } from '../parity/fixtures-dir.ts';

const c = loadCase(path.join(fixturesDir(), 'controlnext'));
const config = resolveControlNeXtConfig(c.json.config as never);
const weights = () => openWeightFile(c.weightsPath());

/** Pose-like values in [0, 1] (a fixed LCG). */
function poses(dims: number[], seed: number): Float32Tensor {
  const t = float32(dims);
  let s = seed >>> 0;
  for (let i = 0; i < t.data.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    t.data[i] = s / 2 ** 32;
  }
  return t;
}

describe('ControlNeXt stem/head split', () => {
  let net: ControlNeXt;
  let full: Session;
  beforeAll(async () => {
    net = await loadControlNeXt(weights(), config);
    full = await Session.create(buildControlNeXt(weights(), config, 'full'), { label: 'ControlNeXt (full)' });
  });
  afterAll(async () => {
    await net.release();
    await full.release();
  });

  it('run = head(stem) = the single full graph, bit for bit, for two batch shapes', async () => {
    for (const [dims, t] of [[[1, 3, 3, 64, 64], 0.79], [[2, 2, 3, 48, 80], 12.5]] as const) {
      const sample = poses([...dims], 7);
      const want = asFloat32((await full.run({ sample, timestep: float32([1], Float32Array.of(t)) })).output, 'full');
      const stem = await net.stem!(sample);
      expect(stem.dims).toEqual([dims[0], dims[1], 128, dims[3] / 2 - 4, dims[4] / 2 - 4]);
      const viaHead = await net.head!(stem, t);
      const viaRun = await net.run(sample, t);
      expect(viaHead.dims).toEqual(want.dims);
      expect(Buffer.from(viaHead.data.buffer).equals(Buffer.from(want.data.buffer))).toBe(true);
      expect(Buffer.from(viaRun.data.buffer).equals(Buffer.from(want.data.buffer))).toBe(true);
    }
  });

  it('releaseStem frees the stem session; stem() creates it again and gives the same bits', async () => {
    const sample = poses([1, 2, 3, 64, 64], 5);
    const before = await net.stem!(sample);
    await net.releaseStem!();
    await net.releaseStem!(); // twice is fine
    const after = await net.stem!(sample);
    expect(Buffer.from(after.data.buffer).equals(Buffer.from(before.data.buffer))).toBe(true);
  });

  it('the stem does not depend on the timestep, the head does', async () => {
    const sample = poses([1, 2, 3, 64, 64], 3);
    const stem = await net.stem!(sample);
    const a = await net.head!(stem, 1);
    const b = await net.head!(stem, 500);
    expect(Buffer.from(a.data.buffer).equals(Buffer.from(b.data.buffer))).toBe(false);
  });

  it('each part uses exactly its own weights (the stem only embedding.*)', () => {
    const stemW = weights();
    buildControlNeXt(stemW, config, 'stem');
    expect(stemW.unused().length).toBeGreaterThan(0);
    expect(stemW.unused().some((n) => n.startsWith('embedding.'))).toBe(false);
    const headW = weights();
    buildControlNeXt(headW, config, 'head');
    expect(headW.unused().length).toBeGreaterThan(0);
    expect(headW.unused().every((n) => n.startsWith('embedding.'))).toBe(true);
  });
});
