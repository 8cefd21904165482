// Where the golden fixtures are: $CNEXT_FIXTURES, else ../shared/fixtures beside the repository (how CI clones it).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CASE_FILE } from '../../src/parity/case.ts';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export function fixturesDir(): string {
  const dir = process.env.CNEXT_FIXTURES ? path.resolve(process.env.CNEXT_FIXTURES) : path.resolve(repoRoot, '../shared/fixtures');
  if (!fs.existsSync(dir)) {
    throw new Error(`golden fixtures not found at ${dir}: clone them to ../shared/fixtures or set CNEXT_FIXTURES`);
  }
  return dir;
}

/** Case folders of the fixture root (sub-folders with case.json), sorted. */
export function fixtureCases(): Array<{ name: string; dir: string; kind: string }> {
  const root = fixturesDir();
  return fs.readdirSync(root, { withFileTypes: true })
    .filter((e) => e.isDirectory() && fs.existsSync(path.join(root, e.name, CASE_FILE)))
    .map((e) => e.name)
    .sort()
    .map((name) => {
      const dir = path.join(root, name);
      const kind = String((JSON.parse(fs.readFileSync(path.join(dir, CASE_FILE), 'utf8')) as { kind?: unknown }).kind);
      return { name, dir, kind };
    });
}
