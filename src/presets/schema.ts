// The knobs a preset may set: the knob table's `presets` rows (src/job/knobs.ts), each optional, keyed as everywhere
// else (the flag in camelCase: `--frames-per-batch` ↔ "framesPerBatch", `--size` ↔ "size": "576x1024"). Values
// are checked with the flags' own bounds, so a user preset and a flag fail with the same message.
import { keysIn, knobSchema, type KeysIn, type KnobValues } from '../job/knobs.ts';

export { flagName } from '../job/knobs.ts';

/** Every knob a preset can hold, each optional; unknown keys are errors (`strict`). */
export const presetValues = knobSchema('presets');

export type PresetKey = KeysIn<'presets'>;
export type PresetValues = Pick<KnobValues, PresetKey>;

export const PRESET_KEYS: readonly PresetKey[] = keysIn('presets');
