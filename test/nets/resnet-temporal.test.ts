// AlphaBlender directions: the UNet mixes α·spatial + (1−α)·temporal, the VAE decoder (switch) the opposite.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { asFloat32, float32 } from '../../src/core/tensor.ts';
import { alphaBlend } from '../../src/nets/resnet-temporal.ts';
import { DataType, GraphBuilder } from '../../src/onnx/builder.ts';
import { Session } from '../../src/onnx/session.ts';
import { openSafetensors, writeSafetensors } from '../../src/weights/safetensors.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnext-alpha-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function blend(mix: number, switchSpatialToTemporalMix: boolean, s: number[], t: number[]): Promise<Float32Array> {
  const file = path.join(dir, `m${switchSpatialToTemporalMix}.safetensors`);
  writeSafetensors(file, { 'time_mixer.mix_factor': { dtype: 'F32', shape: [1], data: new Uint8Array(Float32Array.of(mix).buffer) } });
  const g = new GraphBuilder(openSafetensors(file));
  const sv = g.input('s', DataType.FLOAT, [s.length]);
  const tv = g.input('t', DataType.FLOAT, [t.length]);
  g.output(alphaBlend(g, 'time_mixer', sv, tv, { mergeStrategy: switchSpatialToTemporalMix ? 'learned' : 'learned_with_images', switchSpatialToTemporalMix }), 'y', DataType.FLOAT, [s.length]);
  const session = await Session.create(g.build(), { threads: 1 });
  try {
    const out = await session.run({ s: float32([s.length], Float32Array.from(s)), t: float32([t.length], Float32Array.from(t)) });
    return asFloat32(out.y).data;
  } finally {
    await session.release();
  }
}

describe('alphaBlend', () => {
  const mix = 1.3;
  const a = 1 / (1 + Math.exp(-mix));
  it('UNet ("learned_with_images", indicator 0): σ(m)·spatial + (1−σ(m))·temporal', async () => {
    const y = await blend(mix, false, [1, 0, 2], [0, 1, -2]);
    expect(Array.from(y).map((v) => Number(v.toFixed(6)))).toEqual([a, 1 - a, 2 * a - 2 * (1 - a)].map((v) => Number(v.toFixed(6))));
  });
  it('VAE decoder ("learned", switch_spatial_to_temporal_mix): (1−σ(m))·spatial + σ(m)·temporal', async () => {
    const y = await blend(mix, true, [1, 0, 2], [0, 1, -2]);
    expect(Array.from(y).map((v) => Number(v.toFixed(6)))).toEqual([1 - a, a, 2 * (1 - a) - 2 * a].map((v) => Number(v.toFixed(6))));
  });
});
