// Classifier-free guidance as ControlNeXt-SVD-v2 does it: one scale per frame position inside a window,
// torch.linspace(min, max, frames_per_batch) in float32, and noise = uncond + g·(cond − uncond).
import { invalidParameterError } from '../core/is.ts';

const f = Math.fround;

/** Upstream: CFG is on when max_guidance_scale ≥ 1 (then the UNet batch is [uncond, cond]). */
export function doClassifierFreeGuidance(maxGuidance: number): boolean {
  return maxGuidance >= 1;
}

/**
 * torch.linspace(start, end, steps) for float32 on CPU (aten RangeFactoriesKernel, scalar path): step = (end − start)/(steps − 1)
 * in float32; the first half counts up from start, the second half down from end.
 */
export function linspaceF32(start: number, end: number, steps: number): Float32Array {
  if (!Number.isInteger(steps) || steps < 1) throw invalidParameterError('steps', 'integer of at least 1', steps);
  const out = new Float32Array(steps);
  const s = f(start);
  const e = f(end);
  if (steps === 1) {
    out[0] = s;
    return out;
  }
  const step = f(f(e - s) / (steps - 1));
  const halfway = Math.floor(steps / 2);
  for (let i = 0; i < steps; i++) out[i] = i < halfway ? f(s + f(step * i)) : f(e - f(step * (steps - i - 1)));
  return out;
}

/** Per-frame-position guidance scales of a window. */
export function guidanceScales(minGuidance: number, maxGuidance: number, framesPerBatch: number): Float32Array {
  for (const [name, v] of [['minGuidance', minGuidance], ['maxGuidance', maxGuidance]] as const) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw invalidParameterError(name, 'non-negative number', v);
  }
  return linspaceF32(minGuidance, maxGuidance, framesPerBatch);
}

/**
 * // (2, F, C, h, w) → (1, F, C, h, w)
 * unet output rows [uncond, cond] → uncond + g_f·(cond − uncond), in float32 with upstream's op order.
 */
export function applyGuidance(unetOut: Float32Array, frames: number, scales: Float32Array): Float32Array {
  const half = unetOut.length / 2;
  const perFrame = half / frames;
  if (!Number.isInteger(perFrame) || scales.length !== frames) {
    throw new RangeError(`applyGuidance: ${unetOut.length} values, ${frames} frames, ${scales.length} scales`);
  }
  const out = new Float32Array(half);
  for (let fr = 0; fr < frames; fr++) {
    const g = scales[fr];
    const base = fr * perFrame;
    for (let i = base; i < base + perFrame; i++) {
      const u = unetOut[i];
      out[i] = u + f(g * f(unetOut[half + i] - u));
    }
  }
  return out;
}
