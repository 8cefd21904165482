// The user's presets file: $CNEXT_CONFIG, else $XDG_CONFIG_HOME/controlnext-motion/presets.json, else
// ~/.config/controlnext-motion/presets.json. Format:
//   { "presets": { "my-clip": { "description": "…", "extends": "hq", "steps": 30, "width": 512 } } }
// Every preset is checked with the preset schema (partial generation options) when the file is read.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { CnextError } from '../core/errors.ts';
import { presetValues, type PresetValues } from './schema.ts';
import { describeIssue } from './issues.ts';

export interface UserPreset {
  readonly name: string;
  readonly description?: string;
  readonly extends?: string;
  readonly values: PresetValues;
}

export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CNEXT_CONFIG) return path.resolve(env.CNEXT_CONFIG);
  const base = env.XDG_CONFIG_HOME ? path.resolve(env.XDG_CONFIG_HOME) : path.join(env.HOME || os.homedir(), '.config');
  return path.join(base, 'controlnext-motion', 'presets.json');
}

const PRESET_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/i;

const userPreset = presetValues.extend({
  description: z.string().max(200).optional(),
  extends: z.string().optional(),
});

const EXAMPLE = '{ "presets": { "my-preset": { "extends": "hq", "steps": 30 } } }';

function badFile(file: string, message: string): CnextError {
  return new CnextError('PRESETS_FILE_INVALID', `${file}: ${message}`, {
    solutions: [`the file holds ${EXAMPLE}`, `fix or remove ${file} (or point CNEXT_CONFIG at another file)`],
  });
}

/** Reads and validates the user's presets; a missing file is no presets. */
export function loadUserPresets(env: NodeJS.ProcessEnv = process.env): { file: string; presets: UserPreset[] } {
  const file = configPath(env);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      if (env.CNEXT_CONFIG) throw new CnextError('PRESETS_FILE_MISSING', `CNEXT_CONFIG points at ${file}, which does not exist`);
      return { file, presets: [] };
    }
    throw new CnextError('PRESETS_FILE_UNREADABLE', `cannot read ${file}: ${(e as Error).message}`, { category: 'system' });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw badFile(file, `not valid JSON (${(e as Error).message})`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw badFile(file, 'expected a JSON object');
  const unknownTop = Object.keys(doc).filter((k) => k !== 'presets');
  if (unknownTop.length) throw badFile(file, `unknown key '${unknownTop[0]}' (the only top-level key is "presets")`);
  const map = (doc as { presets?: unknown }).presets ?? {};
  if (typeof map !== 'object' || map === null || Array.isArray(map)) throw badFile(file, '"presets" must be an object of name → values');
  const presets: UserPreset[] = [];
  for (const [name, raw] of Object.entries(map)) {
    if (!PRESET_NAME.test(name)) throw badFile(file, `preset name '${name}' must be letters, digits, '.', '_' or '-'`);
    const r = userPreset.safeParse(raw);
    if (!r.success) throw badFile(file, `preset '${name}': ${describeIssue(r.error.issues[0]!, raw, (k) => `"${k}"`)}`);
    const { description, extends: base, ...values } = r.data;
    presets.push({ name, description, extends: base, values });
  }
  return { file, presets };
}
