// UNetSpatioTemporalConditionControlNeXtModel: fixture parity (unet_tiny, unet_tiny_nocontrol) through the kind
// runner, intermediate values, config/weight checks, and other batch/frame/size combinations in one session.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CnextError } from '../../src/core/errors.ts';
import { absDiff, asFloat32, float32, type Float32Tensor } from '../../src/core/tensor.ts';
import type { Unet } from '../../src/nets/interfaces.ts';
import { Session } from '../../src/onnx/session.ts';
import { loadCase } from '../../src/parity/case.ts';
import { checkTensor, toleranceFor } from '../../src/parity/compare.ts';
import { KINDS } from '../../src/parity/registry.ts';
import {
  adaptivePoolMatrix, block0Size, buildUnet, loadUnet, resolveUnetConfig, type UnetConfig,
} from '../../src/nets/unet-spatio-temporal.ts';
import { openWeightFile } from '../../src/weights/open.ts';
import { SpecRecorder } from '../../src/weights/spec-recorder.ts';
import { writeSyntheticSafetensors } from '../../src/weights/synthetic.ts';
import { WeightSource } from '../../src/weights/weight-source.ts';
import { fixturesDir } from '../parity/fixtures-dir.ts';

const caseDir = (name: string) => path.join(fixturesDir(), name);
const tiny = loadCase(caseDir('unet_tiny'));
const tinyConfig = () => resolveUnetConfig(tiny.json.config);
const weights = () => openWeightFile(tiny.weightsPath());
const io = (name: string) => asFloat32(tiny.io.get(name), name);

/** Deterministic pseudo-random values (a fixed LCG), in [−a, a]. */
function noise(dims: number[], seed: number, a = 1): Float32Tensor {
  const t = float32(dims);
  let s = seed >>> 0;
  for (let i = 0; i < t.data.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    t.data[i] = ((s / 2 ** 32) * 2 - 1) * a;
  }
  return t;
}

/** Rows [from, to) of the leading axis. */
function rows(t: Float32Tensor, from: number, to: number): Float32Tensor {
  const per = t.data.length / t.dims[0];
  return float32([to - from, ...t.dims.slice(1)], t.data.slice(from * per, to * per));
}

describe('unet_controlnext fixtures (kind runner)', () => {
  for (const name of ['unet_tiny', 'unet_tiny_nocontrol']) {
    it(name, async () => {
      const c = loadCase(caseDir(name));
      const checks = await (await KINDS.unet_controlnext()).run(c);
      for (const k of checks) console.log(`${name} ${k.name} max_abs=${k.maxAbs.toExponential(2)} mean_abs=${k.meanAbs.toExponential(2)}`);
      expect(checks.map((k) => k.name)).toEqual(['out.sample']);
      expect(checks.every((k) => k.pass)).toBe(true);
    });
  }

  it('matches the reference intermediates (time/aug embeddings, block-0 output before and after the control, mid block)', async () => {
    const session = await Session.create(buildUnet(weights(), tinyConfig(), { control: true, debug: true }));
    try {
      const [, , , h, w] = io('in.sample').dims;
      const [h0, w0] = block0Size(tinyConfig(), h, w);
      const [, , hc, wc] = io('in.control_output').dims;
      const ph = adaptivePoolMatrix(hc, h0);
      const pw = float32([wc, w0]);
      const m = adaptivePoolMatrix(wc, w0);
      for (let i = 0; i < w0; i++) for (let j = 0; j < wc; j++) pw.data[j * w0 + i] = m[i * wc + j];
      const out = await session.run({
        sample: io('in.sample'),
        timestep: io('in.timestep'),
        encoder_hidden_states: io('in.encoder_hidden_states'),
        added_time_ids: io('in.added_time_ids'),
        control_output: io('in.control_output'),
        control_scale: io('in.control_scale'),
        pool_h: float32([h0, hc], ph),
        pool_w: pw,
      });
      for (const name of ['dbg.time_emb', 'dbg.aug_emb', 'dbg.down0_out', 'dbg.down1_in', 'dbg.mid_out', 'out.sample']) {
        const got = name === 'out.sample' ? out.noise_pred : out[name];
        const k = checkTensor(name, tiny.io.get(name)!, asFloat32(got, name), toleranceFor(tiny, name));
        expect(k, `${name}: ${k.detail ?? ''}`).toMatchObject({ pass: true });
      }
    } finally {
      await session.release();
    }
  });
});

describe('adaptivePoolMatrix', () => {
  it('uses floor/ceil windows (uneven, overlapping), rows averaging', () => {
    // 5 → 3: windows [0,2), [1,4), [3,5)
    const m = adaptivePoolMatrix(5, 3);
    const r = (x: number) => Math.fround(x);
    expect(Array.from(m)).toEqual([r(1 / 2), r(1 / 2), 0, 0, 0, 0, r(1 / 3), r(1 / 3), r(1 / 3), 0, 0, 0, 0, r(1 / 2), r(1 / 2)]);
  });
  it('upsamples by repetition (2 → 4)', () => {
    expect(Array.from(adaptivePoolMatrix(2, 4))).toEqual([1, 0, 1, 0, 0, 1, 0, 1]);
  });
});

describe('UNet config and weights', () => {
  it('names the tensor and both shapes when the config does not match the weights', () => {
    const config: UnetConfig = { ...tinyConfig(), cross_attention_dim: 48 };
    expect(() => buildUnet(weights(), config, { control: true })).toThrowError(
      `Shape mismatch for weight down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight in ${fs.realpathSync(path.join(fixturesDir(), 'unet_tiny', 'weights.safetensors'))}: the config expects [32, 48], the file has [32, 32]`,
    );
  });

  it('rejects weights the model does not use (strict key set)', () => {
    const w = weights();
    const extra = new WeightSource([...w.names().map((n) => w.peek(n)!), { ...w.peek('conv_in.bias')!, name: 'down_blocks.9.extra.bias' }], 'test');
    expect(() => buildUnet(extra, tinyConfig(), { control: true })).toThrowError(
      'Unexpected weights in test not used by the model: down_blocks.9.extra.bias',
    );
  });

  it('fails on a missing weight (layers_per_block larger than the file)', () => {
    let err: unknown;
    try {
      buildUnet(weights(), { ...tinyConfig(), layers_per_block: 3 }, { control: false });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CnextError);
    expect((err as CnextError).message).toMatch(/^Weight down_blocks\.0\.resnets\.2\.spatial_res_block\.norm1\.weight is missing from /);
  });

  it('asks for exactly the fixture state dict (names and shapes) from the config alone (spec recording)', () => {
    const rec = new SpecRecorder();
    buildUnet(rec, tinyConfig(), { control: true });
    const w = weights();
    const recorded = Object.fromEntries(rec.spec().map((e) => [e.name, e.shape]));
    const file = Object.fromEntries(w.names().map((n) => [n, w.peek(n)!.shape]));
    expect(recorded).toEqual(file);
  });

  it('builds the full-size default config (SVD img2vid-xt) without weights data', () => {
    const rec = new SpecRecorder();
    const m = buildUnet(rec, resolveUnetConfig({ _class_name: 'UNetSpatioTemporalConditionModel' }), { control: true });
    expect(m.inputNames).toEqual(['sample', 'timestep', 'encoder_hidden_states', 'added_time_ids', 'control_output', 'control_scale', 'pool_h', 'pool_w']);
    const shapes = new Map(rec.spec().map((e) => [e.name, e.shape]));
    expect(shapes.get('conv_in.weight')).toEqual([320, 8, 3, 3]);
    expect(shapes.get('down_blocks.2.attentions.1.temporal_transformer_blocks.0.ff_in.net.0.proj.weight')).toEqual([10240, 1280]);
    expect(shapes.get('up_blocks.3.resnets.2.spatial_res_block.conv_shortcut.weight')).toEqual([320, 640, 1, 1]);
    expect(shapes.get('mid_block.attentions.0.transformer_blocks.0.attn2.to_k.weight')).toEqual([1280, 1024]);
  });

  it('validates config lists against each other, showing both values', () => {
    expect(() => resolveUnetConfig({ ...tiny.json.config, num_attention_heads: [2, 2, 2] })).toThrowError(
      'UNet config: num_attention_heads has 3 entries ([2,2,2]) but down_block_types has 4',
    );
    expect(() => resolveUnetConfig({ ...tiny.json.config, num_attention_heads: [2, 2, 3, 4] })).toThrowError(
      'UNet config: block_out_channels[2] = 32 is not divisible by num_attention_heads[2] = 3',
    );
    expect(() => resolveUnetConfig({ ...tiny.json.config, projection_class_embeddings_input_dim: 25 })).toThrowError(
      'UNet config: projection_class_embeddings_input_dim = 25 is not a multiple of addition_time_embed_dim = 8',
    );
    expect(() => resolveUnetConfig({ ...tiny.json.config, down_block_types: ['CrossAttnDownBlock2D', 'A', 'B', 'C'] })).toThrowError(
      'UNet config: down_block_types[0] = CrossAttnDownBlock2D does not exist',
    );
  });
});

describe('another config (3 levels, widths 32/64/64, 1 layer per block, 2 transformer layers, int heads)', () => {
  it('records its spec, loads synthetic fp16 weights of that spec and runs B=1, F=4, 24×16', async () => {
    const config = resolveUnetConfig({
      ...tiny.json.config,
      down_block_types: ['CrossAttnDownBlockSpatioTemporal', 'CrossAttnDownBlockSpatioTemporal', 'DownBlockSpatioTemporal'],
      up_block_types: ['UpBlockSpatioTemporal', 'CrossAttnUpBlockSpatioTemporal', 'CrossAttnUpBlockSpatioTemporal'],
      block_out_channels: [32, 64, 64],
      layers_per_block: 1,
      transformer_layers_per_block: 2,
      num_attention_heads: 2,
      cross_attention_dim: 16,
      addition_time_embed_dim: 4,
      projection_class_embeddings_input_dim: 12,
    });
    const rec = new SpecRecorder();
    buildUnet(rec, config, { control: true });
    const names = rec.spec().map((e) => e.name);
    expect(names).toContain('down_blocks.1.attentions.0.temporal_transformer_blocks.1.attn1.to_q.weight');
    expect(names).toContain('up_blocks.0.resnets.1.spatial_res_block.conv_shortcut.weight');
    expect(names.some((n) => n.startsWith('down_blocks.0.resnets.1.'))).toBe(false);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnext-unet-'));
    try {
      const file = path.join(dir, 'unet.safetensors');
      writeSyntheticSafetensors(file, rec.spec(), { seed: 7, dtype: 'F16' });
      const unet = await loadUnet(openWeightFile(file), config, { threads: 2 });
      try {
        const out = await unet.run(noise([1, 4, 8, 24, 16], 8), -0.3, noise([1, 1, 16], 9), float32([1, 3], Float32Array.of(6, 128, 0.02)), {
          output: noise([4, 32, 13, 9], 10),
          scale: float32([4], Float32Array.of(1, 1, 1, 1)),
        });
        expect(out.dims).toEqual([1, 4, 4, 24, 16]);
        expect(out.data.every(Number.isFinite)).toBe(true);
        expect(Math.max(...out.data.map(Math.abs))).toBeGreaterThan(0);
      } finally {
        await unet.release();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('one UNet session, other batch sizes, frame counts and sizes', () => {
  let unet: Unet;
  beforeAll(async () => {
    unet = await loadUnet(weights(), tinyConfig(), { threads: 2 });
  });
  afterAll(async () => {
    await unet?.release();
  });

  const D = 32;
  const ids = (B: number) => float32([B, 3], Float32Array.from({ length: 3 * B }, (_, i) => [6, 128, 0.02][i % 3]));

  it('runs F=2 on 32×24 latents with a 20×17 control map, and each video equals its own batch-1 run', async () => {
    const B = 2;
    const F = 2;
    const sample = noise([B, F, 8, 32, 24], 1);
    const ehs = noise([B, 1, D], 2);
    const control = { output: noise([B * F, 32, 20, 17], 3, 2), scale: float32([B * F], Float32Array.of(0.5, 1, 1, 0.25)) };
    const out = await unet.run(sample, 0.7, ehs, ids(B), control);
    expect(out.dims).toEqual([B, F, 4, 32, 24]);
    expect(out.data.every(Number.isFinite)).toBe(true);
    // video 1 alone (its own control rows and scales)
    const one = await unet.run(rows(sample, 1, 2), 0.7, rows(ehs, 1, 2), ids(1), {
      output: rows(control.output, F, 2 * F),
      scale: float32([F], control.scale.data.slice(F)),
    });
    const d = absDiff(one.data, rows(out, 1, 2).data);
    expect(d.maxAbs).toBeLessThan(1e-5);
    // the frames interact (temporal layers): changing frame 0 changes frame 1's output
    const moved = float32(sample.dims, sample.data.slice());
    for (let i = 0; i < 8 * 32 * 24; i++) moved.data[i] += 0.5;
    const out2 = await unet.run(moved, 0.7, ehs, ids(B), control);
    const per = 4 * 32 * 24;
    expect(absDiff(out2.data.subarray(per, 2 * per), out.data.subarray(per, 2 * per)).maxAbs).toBeGreaterThan(1e-3);
  });

  it('runs the fixture shape (F=3, 16×16) in the same session; scale [B·F] equals [B·F,1,1,1]; scale 0 equals no control', async () => {
    const sample = io('in.sample');
    const t = io('in.timestep').data[0];
    const ehs = io('in.encoder_hidden_states');
    const a = io('in.added_time_ids');
    const output = io('in.control_output');
    const scale4 = io('in.control_scale');
    const withScale4 = await unet.run(sample, t, ehs, a, { output, scale: scale4 });
    const withScale1 = await unet.run(sample, t, ehs, a, { output, scale: float32([scale4.dims[0]], scale4.data) });
    expect(absDiff(withScale1.data, withScale4.data).maxAbs).toBe(0);
    expect(checkTensor('out.sample', tiny.io.get('out.sample')!, withScale4, toleranceFor(tiny, 'out.sample')).pass).toBe(true);
    const zero = await unet.run(sample, t, ehs, a, { output, scale: float32([scale4.dims[0]]) });
    const plain = await unet.run(sample, t, ehs, a);
    expect(absDiff(zero.data, plain.data).maxAbs).toBe(0);
    expect(absDiff(plain.data, withScale4.data).maxAbs).toBeGreaterThan(1e-3);
  });

  it('rejects inputs that do not fit the config with the shapes in the message', async () => {
    const sample = noise([1, 2, 8, 20, 16], 4);
    await expect(unet.run(sample, 0.5, noise([1, 1, D], 5), ids(1))).rejects.toThrowError(
      'UNet: latent size 20×16 must be divisible by 8 (2^(levels − 1)), got sample [1, 2, 8, 20, 16]',
    );
    const ok = noise([1, 2, 8, 16, 16], 4);
    await expect(unet.run(ok, 0.5, noise([1, 2, D], 5), ids(1))).rejects.toThrowError(/encoder_hidden_states must hold one token per video/);
    await expect(unet.run(ok, 0.5, noise([1, 1, D], 5), ids(1), { output: noise([2, 16, 8, 8], 6), scale: float32([2]) })).rejects.toThrowError(
      'UNet: control output must be [2, 32, hc, wc] (B·F rows, block_out_channels[0] channels), got [2, 16, 8, 8]',
    );
  });
});
