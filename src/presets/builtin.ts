// Built-in dance-transfer presets. `dance-portrait` is ControlNeXt-SVD-v2's own inference setting (its script.sh
// and run_controlnext.py defaults; fixtures README §5.8); the others change only what their names say.
import { DEFAULT_OPTIONS } from '../job/options.ts';
import type { PresetValues } from './schema.ts';

export interface Preset {
  readonly name: string;
  readonly description: string;
  /** Where it comes from: built in, or the user's presets file. */
  readonly source: 'built-in' | string;
  readonly values: PresetValues;
}

/**
 * ControlNeXt-SVD-v2's settings for portrait dance clips: the job defaults (src/job/knobs.ts), less the device,
 * precision and memory mode, which are not a preset's business.
 */
const { device: _device, lowMemory: _lowMemory, precision: _precision, ...REFERENCE } = DEFAULT_OPTIONS;

export const DEFAULT_PRESET = 'dance-portrait';

export const BUILTIN_PRESETS: readonly Preset[] = [
  {
    name: 'dance-portrait',
    description: "the reference's own settings for portrait dance clips",
    source: 'built-in',
    values: REFERENCE,
  },
  {
    name: 'preview',
    description: 'fast look: small size, every 3rd frame, 8 steps, short windows, at most 48 frames',
    source: 'built-in',
    values: { ...REFERENCE, size: '320x576', stride: 3, maxFrames: 48, steps: 8, framesPerBatch: 14, overlap: 4, decodeChunk: 4 },
  },
  {
    name: 'hq',
    description: 'high quality: every frame, 40 steps, wider window overlap',
    source: 'built-in',
    values: { ...REFERENCE, stride: 1, maxFrames: 480, steps: 40, overlap: 8 },
  },
  {
    name: 'square',
    description: 'square framing, 768×768',
    source: 'built-in',
    values: { ...REFERENCE, size: '768x768' },
  },
  {
    name: 'landscape',
    description: 'landscape framing, 1024×576',
    source: 'built-in',
    values: { ...REFERENCE, size: '1024x576' },
  },
];
