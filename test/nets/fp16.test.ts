// fp16 graphs of every network, checked on the CPU: consistent element types (our dtype checker, then ONNX Runtime's
// own type inference at session creation), the fp32 islands where the network code claims them, no Cast on a
// weight stored in fp16, fp32 graphs free of float16, and the fp16 results against the fp32 fixtures (ORT's CPU
// runs fp16 graphs — nodes without an fp16 kernel through inserted Casts — so these errors are a lower bound of
// the CUDA ones; the per-op decisions are listed in src/nets/nn.ts).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Precision } from '../../src/core/device.ts';
import { absDiff, asFloat32 } from '../../src/core/tensor.ts';
import { buildVaeDecoder, buildVaeEncoder, loadVae, resolveVaeConfig } from '../../src/nets/autoencoder-kl-temporal-decoder.ts';
import { buildClipVision, loadImageEncoder, resolveClipVisionConfig } from '../../src/nets/clip-vision.ts';
import { buildControlNeXt, loadControlNeXt, resolveControlNeXtConfig } from '../../src/nets/controlnext-svd.ts';
import { buildUnet, loadUnet, resolveUnetConfig } from '../../src/nets/unet-spatio-temporal.ts';
import type { BuiltModel } from '../../src/onnx/builder.ts';
import { checkDtypes, dtypeName } from '../../src/onnx/dtypes.ts';
import { DataType } from '../../src/onnx/proto.ts';
import { Session } from '../../src/onnx/session.ts';
import { loadCase } from '../../src/parity/case.ts';
import { openWeightFile } from '../../src/weights/open.ts';
import { specOf, writeSyntheticSafetensors } from '../../src/weights/synthetic.ts';
import type { WeightSource } from '../../src/weights/weight-source.ts';
import { fixturesDir } from '../parity/fixtures-dir.ts';

type Case = ReturnType<typeof loadCase>;

const cases = new Map<string, Case>();
const fixture = (name: string): Case => {
  let c = cases.get(name);
  if (!c) cases.set(name, (c = loadCase(path.join(fixturesDir(), name))));
  return c;
};
const cfg = (name: string) => fixture(name).json.config as Record<string, unknown>;

interface Net {
  readonly name: string;
  readonly fixture: string;
  build(w: WeightSource, p: Precision): BuiltModel;
  /** fp32 islands this graph must have: op types whose every node computes in float32. */
  readonly fp32: readonly string[];
}

const NETS: readonly Net[] = [
  { name: 'CLIP', fixture: 'clip_tiny', build: (w, p) => buildClipVision(w, resolveClipVisionConfig(cfg('clip_tiny')), p), fp32: [] },
  { name: 'VAE encoder', fixture: 'vae_tiny', build: (w, p) => buildVaeEncoder(w, resolveVaeConfig(cfg('vae_tiny')), p), fp32: ['InstanceNormalization'] },
  { name: 'VAE decoder', fixture: 'vae_tiny', build: (w, p) => buildVaeDecoder(w, resolveVaeConfig(cfg('vae_tiny')), p), fp32: ['InstanceNormalization'] },
  ...(['stem', 'head', 'full'] as const).map((part): Net => ({
    name: `ControlNeXt ${part}`, fixture: 'controlnext',
    build: (w, p) => buildControlNeXt(w, resolveControlNeXtConfig(cfg('controlnext')), part, p),
    fp32: part === 'stem' ? ['InstanceNormalization'] : ['InstanceNormalization', 'Cos', 'Sin'],
  })),
  {
    name: 'UNet + ControlNeXt input', fixture: 'unet_tiny', build: (w, p) => buildUnet(w, resolveUnetConfig(cfg('unet_tiny')), { control: true, precision: p }),
    fp32: ['InstanceNormalization', 'Cos', 'Sin', 'ReduceMean', 'ReduceSumSquare', 'MatMul', 'Sqrt'],
  },
  {
    name: 'UNet', fixture: 'unet_tiny', build: (w, p) => buildUnet(w, resolveUnetConfig(cfg('unet_tiny')), { control: false, precision: p }),
    fp32: ['InstanceNormalization', 'Cos', 'Sin'],
  },
];
/** Where the heavy work is: these ops must compute in fp16 in an fp16 graph. */
const FP16_OPS = ['Conv', 'FusedMatMul', 'MultiHeadAttention', 'LayerNormalization', 'Gelu'];

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cnext-fp16-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
/** The fixture's weights re-written as float16 (same names and shapes, synthetic values): "stored in fp16". */
function fp16Weights(name: string): WeightSource {
  const file = path.join(tmp, `${name}.fp16.safetensors`);
  if (!fs.existsSync(file)) writeSyntheticSafetensors(file, specOf(openWeightFile(fixture(name).weightsPath())), { dtype: 'F16', seed: 3 });
  return openWeightFile(file);
}

function typesOf(report: ReturnType<typeof checkDtypes>, op: string): string[] {
  return [...(report.ops.get(op)?.keys() ?? [])].map(dtypeName).sort();
}

describe.each(NETS)('fp16 graph: $name', (net) => {
  it('has consistent types, fp16 heavy ops, its fp32 islands, and no Cast on fp16-stored weights', () => {
    const report = checkDtypes(net.build(fp16Weights(net.fixture), 'fp16').graph);
    expect(report.errors).toEqual([]);
    for (const op of FP16_OPS) if (report.ops.has(op)) expect(typesOf(report, op), op).toEqual(['FLOAT16']);
    for (const op of net.fp32) expect(typesOf(report, op), op).toEqual(['FLOAT']);
    // the one exception: AlphaBlender's scalar mix_factor, whose sigmoid is folded in fp32 at session creation
    const castNames = (names: readonly string[]) => names.filter((n) => !n.endsWith('mix_factor/Cast'));
    expect(castNames(report.castsOfFp16Weights)).toEqual([]);
    expect(castNames(report.castsOfWeights)).toEqual([]);
  });

  it('casts fp32-stored weights once each, to fp16', () => {
    const built = net.build(openWeightFile(fixture(net.fixture).weightsPath()), 'fp16');
    const report = checkDtypes(built.graph);
    expect(report.errors).toEqual([]);
    const casts = built.graph.nodes.filter((n) => report.castsOfWeights.includes(n.name));
    expect(casts.length).toBeGreaterThan(0);
    expect(new Set(casts.map((n) => n.inputs[0])).size).toBe(casts.length);
    for (const n of casts) expect(report.types.get(n.outputs[0])).toBe(DataType.FLOAT16);
  });

  it('fp32 and tf32 build the same float32 graph, with no float16 in it', () => {
    const a = net.build(openWeightFile(fixture(net.fixture).weightsPath()), 'fp32');
    const b = net.build(openWeightFile(fixture(net.fixture).weightsPath()), 'tf32');
    expect(Buffer.from(a.bytes).equals(Buffer.from(b.bytes))).toBe(true);
    const report = checkDtypes(a.graph);
    expect(report.errors).toEqual([]);
    expect([...report.types.values()].includes(DataType.FLOAT16)).toBe(false);
  });

  it('ONNX Runtime accepts its types (session creation runs full type inference)', async () => {
    const s = await Session.create(net.build(openWeightFile(fixture(net.fixture).weightsPath()), 'fp16'), { label: net.name, threads: 1 });
    await s.release();
  });
});

describe('the dtype checker fails when it should', () => {
  it('reports a float16/float32 mix on a node', async () => {
    const { GraphBuilder } = await import('../../src/onnx/builder.ts');
    const g = new GraphBuilder(undefined, 'bad', DataType.FLOAT16);
    const x = g.input('x', DataType.FLOAT16, [2]);
    g.output(g.op('Add', [x, g.constFloat([1, 2])]), 'y', DataType.FLOAT16, [2]);
    const built = g.build();
    expect(checkDtypes(built.graph).errors.join('\n')).toMatch(/Add.*FLOAT but input 0 binds FLOAT16/);
    // and ONNX Runtime agrees, at session creation
    await expect(Session.create(built)).rejects.toThrow(/Type Error/);
  });
});

/** max |a − b| and max |b| of two float32 tensors. */
function err(a: Float32Array, b: Float32Array): { maxAbs: number; meanAbs: number; refMax: number } {
  let refMax = 0;
  for (const v of b) refMax = Math.max(refMax, Math.abs(v));
  return { ...absDiff(a, b), refMax };
}

// fp16 vs the fp32 fixture on ORT's CPU. Bound: max error ≤ 1 % of the output's largest magnitude (fp16 keeps
// 11 significant bits: 0.05 % per rounding); the numbers are printed for the notes.
describe('fp16 results against the fp32 fixtures (CPU)', () => {
  const bound = (e: { maxAbs: number; refMax: number }) => expect(e.maxAbs).toBeLessThan(0.01 * e.refMax);
  const io = (c: Case, name: string) => asFloat32(c.io.get(name), name);

  it('ControlNeXt', async () => {
    const c = fixture('controlnext');
    const net = await loadControlNeXt(openWeightFile(c.weightsPath()), resolveControlNeXtConfig(cfg('controlnext')), { precision: 'fp16' });
    const out = await net.run(io(c, 'in.sample'), io(c, 'in.timestep').data[0]);
    await net.release();
    const e = err(out.data, io(c, 'out.output').data);
    console.log('fp16 ControlNeXt vs fixture', e);
    bound(e);
  });

  it('UNet with the ControlNeXt input', async () => {
    const c = fixture('unet_tiny');
    const net = await loadUnet(openWeightFile(c.weightsPath()), resolveUnetConfig(cfg('unet_tiny')), { precision: 'fp16' });
    const out = await net.run(io(c, 'in.sample'), io(c, 'in.timestep').data[0], io(c, 'in.encoder_hidden_states'), io(c, 'in.added_time_ids'), {
      output: io(c, 'in.control_output'), scale: io(c, 'in.control_scale'),
    });
    await net.release();
    const e = err(out.data, io(c, 'out.sample').data);
    console.log('fp16 UNet vs fixture', e);
    bound(e);
  });

  it('VAE: the encoder follows force_upcast (fp32, as the reference), the decoder is fp16', async () => {
    const c = fixture('vae_tiny');
    const vae = await loadVae(openWeightFile(c.weightsPath()), resolveVaeConfig(cfg('vae_tiny')), { precision: 'fp16' });
    const latents = io(c, 'in.latents');
    const enc = err((await vae.encode(io(c, 'in.image'))).data, io(c, 'out.latent_mode').data);
    const dec = err((await vae.decode(latents, Number(c.json.inputs.num_frames))).data, io(c, 'out.decoded').data);
    await vae.release();
    console.log('fp16 VAE vs fixture', { enc, dec });
    expect(enc.maxAbs).toBeLessThan(1e-4); // force_upcast: the fixture's config sets it, so this is the fp32 encoder
    bound(enc);
    bound(dec);
  });

  it('CLIP image encoder', async () => {
    const c = fixture('clip_tiny');
    const clip = await loadImageEncoder(openWeightFile(c.weightsPath()), resolveClipVisionConfig(cfg('clip_tiny')), { precision: 'fp16' });
    const e = err((await clip.encode(io(c, 'in.pixel_values'))).data, io(c, 'out.image_embeds').data);
    await clip.release();
    console.log('fp16 CLIP vs fixture', e);
    bound(e);
  });
});
