// End to end on real (tiny) networks: the pipeline_tiny fixture laid out as a diffusers folder + ControlNeXt
// weights, loaded by loadComponents and run by generate with the fixture's injected randomness.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { absDiff, float32, type Float32Tensor } from '../../src/core/tensor.ts';
import { loadComponents } from '../../src/diffusion/load.ts';
import { generate } from '../../src/diffusion/pipeline.ts';
import { poseSourceFromFrames } from '../../src/diffusion/sampler.ts';
import { poseFramesTensor } from '../../src/diffusion/svd-preprocess.ts';
import { loadControlNeXt, resolveControlNeXtConfig } from '../../src/nets/controlnext-svd.ts';
import type { FloatTensor } from '../../src/nets/interfaces.ts';
import { loadUnet, resolveUnetConfig } from '../../src/nets/unet-spatio-temporal.ts';
import { readAllTensors } from '../../src/parity/case.ts';
import { openWeightFile } from '../../src/weights/open.ts';
import { fixturesDir } from '../parity/fixtures-dir.ts';

const caseDir = path.join(fixturesDir(), 'pipeline_tiny');
const cj = JSON.parse(fs.readFileSync(path.join(caseDir, 'case.json'), 'utf8'));
const io = readAllTensors(path.join(caseDir, 'io.safetensors'));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cnext-load-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

type Files = { svdDir: string; controlnext: string; controlnextConfig: string };

function diffusersFolder(): Files {
  const svdDir = path.join(tmp, 'svd');
  const put = (rel: string, json: unknown) => {
    fs.mkdirSync(path.dirname(path.join(svdDir, rel)), { recursive: true });
    fs.writeFileSync(path.join(svdDir, rel), JSON.stringify(json));
  };
  const link = (rel: string, component: string) => fs.symlinkSync(path.resolve(caseDir, cj.weights[component]), path.join(svdDir, rel));
  put('model_index.json', { _class_name: 'StableVideoDiffusionPipeline' });
  put('scheduler/scheduler_config.json', cj.config.scheduler);
  put('feature_extractor/preprocessor_config.json', cj.config.feature_extractor);
  put('image_encoder/config.json', cj.config.image_encoder);
  put('vae/config.json', cj.config.vae);
  put('unet/config.json', cj.config.unet);
  link('image_encoder/model.safetensors', 'image_encoder');
  link('vae/diffusion_pytorch_model.safetensors', 'vae');
  link('unet/diffusion_pytorch_model.safetensors', 'unet');
  const controlnextConfig = path.join(tmp, 'controlnext-config.json'); // the tiny model is not the class default
  fs.writeFileSync(controlnextConfig, JSON.stringify(cj.config.controlnext));
  return { svdDir, controlnext: path.resolve(caseDir, cj.weights.controlnext), controlnextConfig };
}

describe('loadComponents + generate on pipeline_tiny', () => {
  it('reproduces out.frames within the fixture tolerance from a diffusers folder', async () => {
    const files = diffusersFolderOnce();
    const comps = loadComponents(files);
    expect(comps.files.unet).toEqual([path.join(files.svdDir, 'unet/diffusion_pytorch_model.safetensors')]);
    const poses = io.get('in.pose_frames_u8')!;
    const [F] = poses.dims;
    const inputs = cj.inputs;
    const result = await generate(
      comps,
      { refImage: io.get('in.ref_image_u8')!, poses: poseSourceFromFrames(poses.data as Uint8Array, F) },
      {
        steps: inputs.num_inference_steps, minGuidance: inputs.min_guidance_scale, maxGuidance: inputs.max_guidance_scale,
        framesPerBatch: inputs.frames_per_batch, overlap: inputs.overlap, decodeChunk: inputs.decode_chunk_size,
        noiseAugStrength: inputs.noise_aug_strength,
      },
      { latents: io.get('in.latents') as Float32Tensor, imageNoise: io.get('in.image_noise') as Float32Tensor },
    );
    const { maxAbs, meanAbs } = absDiff(result.frames!.data, io.get('out.frames')!.data as Float32Array);
    console.log(`pipeline_tiny via loadComponents: out.frames max_abs=${maxAbs.toExponential(2)} mean_abs=${meanAbs.toExponential(2)}`);
    const tol = cj.tolerance.per_output['out.frames'];
    expect(maxAbs).toBeLessThanOrEqual(tol.max_abs);
    expect(meanAbs).toBeLessThanOrEqual(tol.mean_abs);
  });

  it('feeds [ctrl, ctrl] from F rows, equal to ControlNeXt run on the duplicated 2F rows as upstream does', async () => {
    const net = await loadComponents(diffusersFolderOnce()).controlnext();
    try {
      const all = poseFramesTensor(io.get('in.pose_frames_u8')!); // (1, F, 3, H, W)
      const [, , , H, W] = all.dims;
      const size = 3 * H * W;
      const s = 2; // window 1 of the fixture: frames 0, 3, 4, 5
      const cond = new Float32Array(4 * size);
      [0, s + 1, s + 2, s + 3].forEach((fr, j) => cond.set(all.data.subarray(fr * size, (fr + 1) * size), j * size));
      const t = (io.get('dbg.timesteps')!.data as Float32Array)[0];
      const one = await net.run(float32([1, 4, 3, H, W], cond), t);
      const twice = await net.run(float32([2, 4, 3, H, W], Float32Array.from([...cond, ...cond])), t);
      const stacked = Float32Array.from([...one.data, ...one.data]);
      expect(twice.dims).toEqual([8, ...one.dims.slice(1)]);
      expect(absDiff(stacked, twice.data).maxAbs).toBeLessThanOrEqual(1e-6);
      // and both are the reference's dbg.s0.w1.controlnext_out up to the network's own float32 error
      expect(absDiff(stacked, io.get('dbg.s0.w1.controlnext_out')!.data as Float32Array).maxAbs).toBeLessThan(1e-3);
    } finally {
      await net.release();
    }
  });

  it('says what is missing from a folder', () => {
    const empty = path.join(tmp, 'empty');
    fs.mkdirSync(empty);
    expect(() => loadComponents({ svdDir: path.join(tmp, 'nope'), controlnext: 'x' })).toThrow(`The SVD folder ${path.join(tmp, 'nope')} does not exist`);
    expect(() => loadComponents({ svdDir: empty, controlnext: 'x' })).toThrow(`Cannot read ${path.join(empty, 'scheduler', 'scheduler_config.json')}`);
    const files = diffusersFolderOnce();
    expect(() => loadComponents({ ...files, controlnext: path.join(tmp, 'missing.bin') })).toThrow(`Weight file ${path.join(tmp, 'missing.bin')} does not exist`);
  });

  it('runs end to end with fp16 ControlNeXt and UNet graphs (fp16 features from stem to UNet, on the CPU)', async () => {
    const files = diffusersFolderOnce();
    const comps = loadComponents(files);
    const types: string[] = [];
    const fp16 = {
      ...comps,
      unet: () => loadUnet(openWeightFile(path.join(files.svdDir, 'unet/diffusion_pytorch_model.safetensors')), resolveUnetConfig(cj.config.unet), { precision: 'fp16' }),
      controlnext: async () => {
        const net = await loadControlNeXt(openWeightFile(files.controlnext), resolveControlNeXtConfig(cj.config.controlnext), { precision: 'fp16' });
        return { ...net, stem: async (x: FloatTensor) => { types.push(x.type); const y = await net.stem!(x); types.push(y.type); return y; } };
      },
    };
    const poses = io.get('in.pose_frames_u8')!;
    const inputs = cj.inputs;
    const result = await generate(
      fp16,
      { refImage: io.get('in.ref_image_u8')!, poses: poseSourceFromFrames(poses.data as Uint8Array, poses.dims[0]) },
      {
        steps: inputs.num_inference_steps, minGuidance: inputs.min_guidance_scale, maxGuidance: inputs.max_guidance_scale,
        framesPerBatch: inputs.frames_per_batch, overlap: inputs.overlap, decodeChunk: inputs.decode_chunk_size,
        noiseAugStrength: inputs.noise_aug_strength,
      },
      { latents: io.get('in.latents') as Float32Tensor, imageNoise: io.get('in.image_noise') as Float32Tensor },
    );
    expect(new Set(types)).toEqual(new Set(['float16']));
    const { maxAbs, meanAbs } = absDiff(result.frames!.data, io.get('out.frames')!.data as Float32Array);
    console.log(`pipeline_tiny with fp16 ControlNeXt + UNet (CPU): out.frames max_abs=${maxAbs.toExponential(2)} mean_abs=${meanAbs.toExponential(2)}`);
    expect(maxAbs).toBeLessThan(0.01); // frames in [0, 1]; measured 2.5e-3 (the fp32 path: 2e-5)
  });

  it('refuses fp16/tf32 on the CPU with one line, before reading any weights', () => {
    const files = diffusersFolderOnce();
    for (const precision of ['fp16', 'tf32'] as const) {
      expect(() => loadComponents(files, { precision })).toThrow(`--precision ${precision} needs --device cuda; the CPU runs fp32 only`);
    }
    expect(() => loadComponents(files, { precision: 'fp32' })).not.toThrow();
  });
});

let made: Files | undefined;
function diffusersFolderOnce(): Files {
  made ??= diffusersFolder();
  return made;
}
