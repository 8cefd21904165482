// The batch plan: one item per video, with its reference photo, its resolved options and its output path.
//   reference: manifest row's ref  >  the photo named like the video (clip.mp4 + clip.jpg)  >  --ref
//   preset:    manifest row's preset  >  --preset  >  dance-portrait; flags the user gave override either
//   output:    manifest row's out (relative to OUTDIR)  >  OUTDIR/<path relative to DIR, extension .mp4>; when two
//              videos would share an output (clip.mov and clip.mp4), both keep their extension (clip.mov.mp4).
// A problem that concerns one item (no reference, unknown preset in a row) fails that item only.
import path from 'node:path';
import { CnextError, isCnextError } from '../core/errors.ts';
import type { KnobValues } from '../job/knobs.ts';
import type { JobOptions } from '../job/options.ts';
import { resolveValues, type PresetKey, type PresetsContext } from '../presets/index.ts';
import { discoverVideos, pairedRef } from './discover.ts';
import { readManifest, type ManifestRow } from './manifest.ts';

/** What a batch runs over and where it writes: the flags a local batch (src/cli/batch.ts) and a farm batch share. */
export interface BatchSelection {
  readonly dir: string;
  readonly out: string;
  readonly ref?: string;
  readonly recursive: boolean;
  readonly manifest?: string;
  readonly preset?: string;
  readonly models?: string;
  readonly json: boolean;
  /** Generation knobs the user gave (the knob table's keys). */
  readonly flags: Omit<KnobValues, 'preset' | 'models'>;
}

export interface BatchItem {
  readonly index: number;
  /** Shown in the TUI and the report: the video's path relative to DIR (or as the manifest names it). */
  readonly name: string;
  readonly video: string;
  readonly ref?: string;
  readonly preset: string;
  readonly options?: JobOptions;
  readonly output: string;
  /** Why this item cannot run (it is reported as failed; the others go on). */
  readonly problem?: CnextError;
}

export interface PlanInput {
  readonly dir: string;
  readonly outDir: string;
  readonly ref?: string;
  readonly recursive?: boolean;
  readonly manifest?: string;
  readonly preset?: string;
  /** Generation flags, and which of them the user typed (only those override presets). */
  readonly flags?: Partial<Record<PresetKey, unknown>>;
  readonly given?: ReadonlySet<string>;
  readonly presets?: PresetsContext;
}

const NO_REF = (video: string) =>
  new CnextError('BATCH_NO_REF', `No reference photo for ${video}`, {
    solutions: ['give one for all with --ref IMAGE', `or put a photo named like the video next to it (${path.basename(video, path.extname(video))}.jpg)`, 'or list it in a --manifest'],
  });

export function planBatch(p: PlanInput): BatchItem[] {
  const dir = path.resolve(p.dir);
  const outDir = path.resolve(p.outDir);
  const ref = p.ref ? path.resolve(p.ref) : undefined;
  const flags = p.flags ?? {};
  const given = p.given ?? new Set(Object.keys(flags));
  // the command line's own preset and flags must be valid whatever the rows say
  resolveValues(p.preset, flags, given, p.presets);

  const rows: ManifestRow[] = p.manifest
    ? readManifest(p.manifest)
    : discoverVideos(dir, { recursive: p.recursive, exclude: [outDir] }).map((video) => ({ video, where: video }));
  if (!rows.length) {
    throw new CnextError('BATCH_EMPTY', `No videos (${['mp4', 'mov', 'webm', 'mkv'].join(', ')}) in ${p.dir}${p.recursive ? '' : ' (add --recursive for subfolders)'}`);
  }
  const inDir = (f: string) => !path.relative(dir, f).startsWith('..') && !path.isAbsolute(path.relative(dir, f));
  const nameOf = (video: string) => (inDir(video) ? path.relative(dir, video) : path.basename(video));
  const mirrored = (video: string, keepExt: boolean) => {
    const rel = nameOf(video);
    const stem = keepExt ? rel : rel.slice(0, rel.length - path.extname(rel).length);
    return path.join(outDir, `${stem}.mp4`);
  };
  const counts = new Map<string, number>();
  for (const r of rows) if (!r.out) counts.set(mirrored(r.video, false), (counts.get(mirrored(r.video, false)) ?? 0) + 1);

  const seen = new Map<string, string>();
  return rows.map((r, index) => {
    const name = nameOf(r.video);
    const output = r.out ? path.resolve(outDir, r.out) : mirrored(r.video, (counts.get(mirrored(r.video, false)) ?? 0) > 1);
    const itemRef = r.ref ?? pairedRef(r.video) ?? ref;
    const preset = r.preset ?? p.preset ?? 'dance-portrait';
    const base = { index, name, video: r.video, ref: itemRef, preset, output };
    if (path.extname(output).toLowerCase() !== '.mp4') {
      return { ...base, problem: new CnextError('INVALID_PARAMETER', `${r.where}: the output ${output} must end in .mp4`) };
    }
    if (output === path.resolve(r.video) || (itemRef && output === path.resolve(itemRef))) {
      return { ...base, problem: new CnextError('BATCH_OUTPUT_IS_INPUT', `${r.where}: the output ${output} is this item's input; choose another --out folder`) };
    }
    const dup = seen.get(output);
    if (dup) return { ...base, problem: new CnextError('BATCH_DUPLICATE_OUTPUT', `${r.where}: ${output} is also the output of ${dup}`) };
    seen.set(output, name);
    if (!itemRef) return { ...base, problem: NO_REF(name) };
    try {
      const resolved = resolveValues(preset, flags, given, p.presets);
      return { ...base, preset: resolved.preset, options: resolved.values };
    } catch (e) {
      if (!isCnextError(e)) throw e;
      return { ...base, problem: new CnextError(e.code, `${r.where}: ${e.message}`, { solutions: e.solutions }) };
    }
  });
}
