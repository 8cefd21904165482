// Named parameter sets. A preset is a partial GenerateOptions: defaults ← preset ← explicit flags.
import type { GenerateOptions } from './options.ts';

export interface Preset {
  readonly description: string;
  readonly options: Partial<GenerateOptions>;
}

export const PRESETS: Readonly<Record<string, Preset>> = {
  /** ControlNeXt-SVD-v2's own run (script.sh): portrait 576×1024, every 2nd frame, up to 240, 25 steps, guidance 3. */
  'dance-portrait': {
    description: 'the reference settings: 576×1024 portrait, stride 2, up to 240 frames, 25 steps, guidance 3',
    options: {
      width: 576, height: 1024, stride: 2, maxFrames: 240, steps: 25, minGuidance: 3, maxGuidance: 3,
      framesPerBatch: 24, overlap: 6, decodeChunk: 2, fit: 'cover',
    },
  },
};

export function presetNames(): string[] {
  return Object.keys(PRESETS);
}
