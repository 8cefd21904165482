import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A temp folder with files: { 'a.mp4': 'bytes', 'sub/b.mov': '…' }. */
export function tree(files: Record<string, string>): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cnext-batch-'));
  for (const [rel, text] of Object.entries(files)) {
    const p = path.join(root, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, text);
  }
  return root;
}
