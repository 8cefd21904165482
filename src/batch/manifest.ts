// A batch manifest: rows of video, ref, preset[, out], as CSV (an optional header row names the columns) or JSON (an array of objects, or
// { "items": [...] }). Relative paths are relative to the manifest's folder; `out` is relative to OUTDIR. Empty
// cells fall back to the command line (--ref, --preset) and to the mirrored output name.
import fs from 'node:fs';
import path from 'node:path';
import { CnextError } from '../core/errors.ts';

export interface ManifestRow {
  readonly video: string;
  readonly ref?: string;
  readonly preset?: string;
  readonly out?: string;
  /** Where the row is, for messages: `manifest.csv:3`. */
  readonly where: string;
}

const COLUMNS = ['video', 'ref', 'preset', 'out'] as const;

function bad(where: string, message: string): CnextError {
  return new CnextError('MANIFEST_INVALID', `${where}: ${message}`, {
    solutions: [
      'CSV: one row per video, columns video,ref,preset,out (an optional header row names them; empty cells use --ref/--preset)',
      'JSON: [{ "video": "a.mp4", "ref": "a.jpg", "preset": "hq", "out": "a.mp4" }, ...]',
    ],
  });
}

/** One CSV line into cells (RFC 4180 quotes: "a,b" and "" inside quotes). */
export function splitCsvLine(line: string, where: string): string[] {
  const cells: string[] = [];
  let cur = '';
  let quoted = false;
  let wasQuoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"' && cur.trim() === '') {
      quoted = true;
      wasQuoted = true;
      cur = '';
    } else if (c === ',') {
      cells.push(wasQuoted ? cur : cur.trim());
      cur = '';
      wasQuoted = false;
    } else cur += c;
  }
  if (quoted) throw bad(where, 'unterminated quote');
  cells.push(wasQuoted ? cur : cur.trim());
  return cells;
}

export function parseCsvManifest(text: string, file: string): ManifestRow[] {
  const rows: ManifestRow[] = [];
  let columns: readonly string[] = COLUMNS;
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  let first = true;
  lines.forEach((line, i) => {
    const where = `${file}:${i + 1}`;
    if (!line.trim() || line.trimStart().startsWith('#')) return;
    const cells = splitCsvLine(line, where);
    if (first) {
      first = false;
      // a header row names a `video` column (no video file is called just "video")
      if (cells.some((c) => c.toLowerCase() === 'video')) {
        const unknown = cells.find((c) => !(COLUMNS as readonly string[]).includes(c.toLowerCase()));
        if (unknown !== undefined) throw bad(where, `unknown column '${unknown}'; valid columns: ${COLUMNS.join(', ')}`);
        columns = cells.map((c) => c.toLowerCase());
        return;
      }
    }
    if (cells.length > columns.length) throw bad(where, `${cells.length} cells but only ${columns.length} columns (${columns.join(', ')})`);
    const row: Record<string, string> = {};
    cells.forEach((c, k) => {
      if (c) row[columns[k]!] = c;
    });
    if (!row.video) throw bad(where, 'no video');
    rows.push({ video: row.video, ref: row.ref, preset: row.preset, out: row.out, where });
  });
  return rows;
}

export function parseJsonManifest(text: string, file: string): ManifestRow[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw bad(file, `not valid JSON (${(e as Error).message})`);
  }
  const items = Array.isArray(doc) ? doc : (doc as { items?: unknown } | null)?.items;
  if (!Array.isArray(items)) throw bad(file, 'expected an array of rows, or { "items": [...] }');
  return items.map((it, i) => {
    const where = `${file} item ${i + 1}`;
    if (typeof it !== 'object' || it === null || Array.isArray(it)) throw bad(where, 'expected an object with video, ref, preset, out');
    const o = it as Record<string, unknown>;
    for (const [k, v] of Object.entries(o)) {
      if (!(COLUMNS as readonly string[]).includes(k)) throw bad(where, `unknown key '${k}'; valid keys: ${COLUMNS.join(', ')}`);
      if (v !== undefined && v !== null && typeof v !== 'string') throw bad(where, `'${k}' must be a string`);
    }
    if (!o.video) throw bad(where, 'no video');
    const s = (k: string) => (typeof o[k] === 'string' && o[k] ? (o[k] as string) : undefined);
    return { video: s('video')!, ref: s('ref'), preset: s('preset'), out: s('out'), where };
  });
}

/** Reads a manifest (.json → JSON, anything else → CSV); paths resolved against the manifest's folder. */
export function readManifest(file: string): ManifestRow[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new CnextError('INPUT_NOT_FOUND', `The manifest ${file} does not exist`);
  }
  const rows = path.extname(file).toLowerCase() === '.json' ? parseJsonManifest(text, file) : parseCsvManifest(text, file);
  if (!rows.length) throw bad(file, 'no rows');
  const base = path.dirname(path.resolve(file));
  return rows.map((r) => ({ ...r, video: path.resolve(base, r.video), ref: r.ref && path.resolve(base, r.ref) }));
}
