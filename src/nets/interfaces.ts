// The networks as the sampler sees them: typed async functions over float32 tensors. The ONNX Runtime
// implementations are beside this file in src/nets/; tests may provide plain-TypeScript ones. Shapes follow diffusers.
import type { Float32Tensor } from '../core/tensor.ts';
import type { FloatTensor, FloatType } from './float16.ts';

export type { FloatTensor, FloatType };

/** CLIPVisionModelWithProjection: pixel_values [B,3,224,224] (CLIP-normalised) → image_embeds [B,D]. */
export interface ImageEncoder {
  encode(pixelValues: Float32Tensor): Promise<Float32Tensor>;
  release(): Promise<void>;
}

/** AutoencoderKLTemporalDecoder. */
export interface Vae {
  /** image [B,3,H,W] in [−1,1] → latent_dist.mode() [B,4,H/8,W/8] (not scaled). */
  encode(image: Float32Tensor): Promise<Float32Tensor>;
  /** latents [N,4,h,w] (rows = consecutive frames of N/numFrames videos) → decoded [N,3,8h,8w]. */
  decode(latents: Float32Tensor, numFrames: number): Promise<Float32Tensor>;
  readonly scalingFactor: number;
  release(): Promise<void>;
}

/**
 * ControlNeXtSDVModel: sample [B,F,3,H,W] in [0,1], timestep → output [B·F,C0,h',w'] (scale is always 1).
 * `run` takes and gives float32 whatever the graph computes in.
 * `stem`/`head`, when present, split `run` at the point where the timestep enters: `stem` (timestep-free,
 * per frame) → [B,F,Cs,hs,ws], and `head(stem(s), t)` equals `run(s, t)` — so a sampler may compute each frame's
 * stem once per job. They take and give tensors of type `io` (float16 for an fp16 graph: no conversions, half
 * the bytes; the UNet's `control_output` takes them as they are).
 */
export interface ControlNeXt {
  run(sample: Float32Tensor, timestep: number): Promise<Float32Tensor>;
  /** The tensor type of stem/head's inputs and outputs (default float32). */
  readonly io?: FloatType;
  stem?(sample: FloatTensor): Promise<FloatTensor>;
  head?(stem: FloatTensor, timestep: number): Promise<FloatTensor>;
  /** Free what only stem() needs (the caller holds every stem it will use); stem() still works after it. */
  releaseStem?(): Promise<void>;
  release(): Promise<void>;
}

export interface ControlInput {
  /** [B·F, C0, hc, wc]: float32, or float16 from an fp16 ControlNeXt (converted if the UNet's graph differs). */
  readonly output: FloatTensor;
  /** [B·F] per-row scale (0 for the unconditional half). */
  readonly scale: Float32Tensor;
}

/** UNetSpatioTemporalConditionControlNeXtModel. */
export interface Unet {
  /**
   * sample [B,F,8,h,w], timestep, encoderHiddenStates [B,1,D], addedTimeIds [B,3], optional control
   * → noise prediction [B,F,4,h,w].
   */
  run(
    sample: Float32Tensor,
    timestep: number,
    encoderHiddenStates: Float32Tensor,
    addedTimeIds: Float32Tensor,
    control?: ControlInput,
  ): Promise<Float32Tensor>;
  release(): Promise<void>;
}
