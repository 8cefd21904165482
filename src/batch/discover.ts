// Finding the work: the videos of a folder (optionally recursive) and the reference photo that belongs to each
// (a photo with the same name next to the video: clip.mp4 + clip.jpg).
import fs from 'node:fs';
import path from 'node:path';
import { CnextError } from '../core/errors.ts';

export const VIDEO_EXTENSIONS = ['.mp4', '.mov', '.webm', '.mkv'] as const;
export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp'] as const;

const hasExt = (file: string, exts: readonly string[]) => exts.includes(path.extname(file).toLowerCase());

export interface DiscoverOptions {
  readonly recursive?: boolean;
  /** Folders never entered (the output folder when it sits inside the input folder). */
  readonly exclude?: readonly string[];
}

/**
 * Videos under `dir`, as absolute paths sorted by their path relative to `dir`. Hidden entries (job folders such
 * as `.clip.mp4.cnext-job/`) and partial files are skipped.
 */
export function discoverVideos(dir: string, o: DiscoverOptions = {}): string[] {
  const root = path.resolve(dir);
  let st: fs.Stats;
  try {
    st = fs.statSync(root);
  } catch {
    throw new CnextError('INPUT_NOT_FOUND', `The folder ${dir} does not exist`);
  }
  if (!st.isDirectory()) throw new CnextError('INPUT_NOT_FOUND', `${dir} is not a folder`);
  const exclude = new Set((o.exclude ?? []).map((d) => path.resolve(d)));
  const found: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      if (e.name.startsWith('.') || e.name.includes('.partial-')) continue;
      const p = path.join(d, e.name);
      if (e.isDirectory()) {
        if (o.recursive && !exclude.has(p)) walk(p);
      } else if ((e.isFile() || e.isSymbolicLink()) && hasExt(e.name, VIDEO_EXTENSIONS)) {
        found.push(p);
      }
    }
  };
  walk(root);
  return found.sort((a, b) => (path.relative(root, a) < path.relative(root, b) ? -1 : 1));
}

/** The photo named like the video (clip.mp4 → clip.jpg, clip.png, …; extension case ignored), if any. */
export function pairedRef(video: string): string | undefined {
  const dir = path.dirname(video);
  const stem = path.basename(video, path.extname(video));
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return undefined;
  }
  for (const ext of IMAGE_EXTENSIONS) {
    const hit = names.find((n) => path.extname(n).toLowerCase() === ext && path.basename(n, path.extname(n)) === stem);
    if (hit) return path.join(dir, hit);
  }
  return undefined;
}
