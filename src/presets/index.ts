// The preset system: built-in presets, the user's presets file, and the merge order
//   reference defaults (dance-portrait)  <  preset (its `extends` chain first)  <  flags the user actually gave.
// A user preset with a built-in's name replaces it (listed with its file as source).
import { CnextError } from '../core/errors.ts';
import { withDefaults, type JobOptions } from '../job/options.ts';
import { BUILTIN_PRESETS, DEFAULT_PRESET, type Preset } from './builtin.ts';
import { loadUserPresets, type UserPreset } from './config.ts';
import { describeIssue } from './issues.ts';
import { PRESET_KEYS, presetValues, type PresetKey, type PresetValues } from './schema.ts';

export { BUILTIN_PRESETS, DEFAULT_PRESET, type Preset } from './builtin.ts';
export { configPath, loadUserPresets, type UserPreset } from './config.ts';
export { PRESET_KEYS, flagName, presetValues, type PresetKey, type PresetValues } from './schema.ts';

/** Every value set: the job's defaults (the reference's settings), then the preset, then the flags. */
export type ResolvedValues = JobOptions;

export interface PresetsContext {
  readonly env?: NodeJS.ProcessEnv;
  /** Instead of reading the file (tests). */
  readonly user?: readonly UserPreset[];
}


/** Built-ins, then the user's presets (resolved through `extends`); a user preset may replace a built-in. */
export function listPresets(ctx: PresetsContext = {}): Preset[] {
  const { user, file } = ctx.user ? { user: ctx.user, file: 'presets file' } : (() => {
    const r = loadUserPresets(ctx.env);
    return { user: r.presets, file: r.file };
  })();
  const byName = new Map<string, Preset>(BUILTIN_PRESETS.map((p) => [p.name, p]));
  const userByName = new Map(user.map((p) => [p.name, p]));
  const resolving = new Set<string>();
  const resolve = (p: UserPreset): Preset => {
    if (resolving.has(p.name)) {
      throw new CnextError('PRESET_CYCLE', `${file}: preset '${p.name}' extends itself (${[...resolving, p.name].join(' → ')})`);
    }
    resolving.add(p.name);
    const baseName = p.extends ?? DEFAULT_PRESET;
    let base: PresetValues;
    const userBase = userByName.get(baseName);
    if (userBase && baseName !== p.name) base = resolve(userBase).values;
    else {
      const b = BUILTIN_PRESETS.find((x) => x.name === baseName);
      if (!b) {
        const names = [...new Set([...BUILTIN_PRESETS.map((x) => x.name), ...user.map((x) => x.name)])].filter((n) => n !== p.name);
        throw new CnextError('PRESET_UNKNOWN', `${file}: preset '${p.name}' extends unknown preset '${baseName}'; valid presets: ${names.join(', ')}`);
      }
      base = b.values;
    }
    resolving.delete(p.name);
    return {
      name: p.name,
      description: p.description ?? `user preset (${p.extends ? `extends ${p.extends}` : 'from the reference settings'})`,
      source: file,
      values: { ...base, ...p.values },
    };
  };
  for (const p of user) byName.set(p.name, resolve(p));
  return [...byName.values()];
}

/** The preset called `name`, or an error listing the valid names. */
export function findPreset(name: string, ctx: PresetsContext = {}): Preset {
  const all = listPresets(ctx);
  const p = all.find((x) => x.name === name);
  if (!p) {
    throw new CnextError('PRESET_UNKNOWN', `Unknown preset '${name}'; valid presets: ${all.map((x) => x.name).join(', ')}`, {
      solutions: ['`cnext presets` lists them with their values'],
    });
  }
  return p;
}

/** Checks flag values with the preset schema (same bounds, same wording). */
export function checkValues(values: Record<string, unknown>): PresetValues {
  const r = presetValues.safeParse(values);
  if (!r.success) throw new CnextError('INVALID_PARAMETER', describeIssue(r.error.issues[0]!, values));
  return r.data;
}

/**
 * Merge order: the reference settings < the preset < `flags` restricted to `given` (the keys the user typed;
 * commander's defaults must not override a preset). Returns every value, checked.
 */
export function resolveValues(
  presetName: string | undefined,
  flags: Readonly<Partial<Record<PresetKey, unknown>>> = {},
  given: ReadonlySet<string> = new Set(Object.keys(flags)),
  ctx: PresetsContext = {},
): { preset: string; values: ResolvedValues } {
  const preset = findPreset(presetName ?? DEFAULT_PRESET, ctx);
  const chosen: Record<string, unknown> = {};
  for (const k of PRESET_KEYS) if (given.has(k) && flags[k] !== undefined) chosen[k] = flags[k];
  const checked = checkValues(chosen);
  const values: ResolvedValues = withDefaults({ ...preset.values, ...checked });
  if (values.overlap >= values.framesPerBatch) {
    throw new CnextError(
      'INVALID_PARAMETER',
      `--overlap (${values.overlap}) must be smaller than --frames-per-batch (${values.framesPerBatch})`,
    );
  }
  return { preset: preset.name, values };
}
