// The pipeline's networks from a models root laid out as models/layout.ts describes (svd-xt-1-1/, a diffusers
// folder, plus controlnext-svd-v2/ or its fp16 safetensors alternative), through src/diffusion/load.ts. Missing
// pieces fail here, before any work, with the command that fetches them.
import fs from 'node:fs';
import path from 'node:path';
import { CnextError } from '../core/errors.ts';
import type { Device, Precision } from '../core/device.ts';
import { loadComponents, type LoadOptions } from '../diffusion/load.ts';
import { assertProviderAvailable } from '../onnx/session.ts';

export interface ComponentOptions {
  readonly device?: Device;
  /** The job's resolved precision (src/core/device.ts); the loader picks graphs and weights for it. */
  readonly precision?: Precision;
  readonly lowMemory?: boolean;
}

export const PULL_COMMAND = 'HF_TOKEN=hf_... cnext models pull svd-xt-1-1 controlnext-svd-v2';

function missing(what: string, root: string): CnextError {
  return new CnextError('MODEL_MISSING', `${what} not found in the models folder ${root}`, {
    solutions: [
      `Download the weights (accept the SVD licence on huggingface.co first): ${PULL_COMMAND}`,
      'Or point --models at a folder holding svd-xt-1-1/ and controlnext-svd-v2/ (CNEXT_CACHE sets the default)',
      'Or see the pipeline run on synthetic weights: cnext demo',
    ],
  });
}

/** ControlNeXt's two files: the released .bin pair, else Kijai's fp16 safetensors conversion. */
function controlnextFiles(root: string): { unet: string; controlnext: string; config?: string } {
  const cn = path.join(root, 'controlnext-svd-v2');
  const kijai = path.join(root, 'controlnext-svd-v2-fp16');
  const pairs = [
    { unet: path.join(cn, 'unet.bin'), controlnext: path.join(cn, 'controlnet.bin'), dir: cn },
    { unet: path.join(kijai, 'controlnext-svd_v2-unet-fp16.safetensors'), controlnext: path.join(kijai, 'controlnext-svd_v2-controlnet-fp16.safetensors'), dir: kijai },
  ];
  const found = pairs.find((p) => fs.existsSync(p.unet) && fs.existsSync(p.controlnext));
  if (!found) throw missing('ControlNeXt-SVD-v2 (controlnext-svd-v2/unet.bin and controlnet.bin)', root);
  // Only non-default configs (synthetic tiny models) carry a config.json; the released files use the class defaults.
  const config = path.join(found.dir, 'config.json');
  return { unet: found.unet, controlnext: found.controlnext, config: fs.existsSync(config) ? config : undefined };
}

export function loadModelComponents(root: string, o: ComponentOptions = {}): ReturnType<typeof loadComponents> {
  assertProviderAvailable(o.device ?? 'cpu');
  const svdDir = path.join(root, 'svd-xt-1-1');
  if (!fs.existsSync(path.join(svdDir, 'model_index.json'))) throw missing('Stable Video Diffusion img2vid-xt 1.1 (svd-xt-1-1/)', root);
  const cn = controlnextFiles(root);
  // `precision` is read by the loader once it implements fp16 (the GPU work); until then the type only allows it
  const options: LoadOptions & { readonly precision?: Precision } = {
    session: { provider: o.device ?? 'cpu', lowMemory: o.lowMemory ?? false },
    precision: o.precision,
  };
  return loadComponents({ svdDir, unet: cn.unet, controlnext: cn.controlnext, controlnextConfig: cn.config }, options);
}
