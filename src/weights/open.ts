// Open any supported weight file by sniffing its first bytes (not its extension).
import fs from 'node:fs';
import { CnextError } from '../core/errors.ts';
import { openSafetensors } from './safetensors.ts';
import { openTorchZip } from './torch-zip.ts';
import type { WeightSource } from './weight-source.ts';

export type WeightFormat = 'safetensors' | 'torch-zip';

/** What the first bytes say the file is; throws a CnextError for anything else. */
export function sniffWeightFormat(file: string): WeightFormat {
  const head = Buffer.alloc(16);
  let got: number;
  try {
    const fd = fs.openSync(file, 'r');
    try {
      got = fs.readSync(fd, head, 0, head.length, 0);
    } finally {
      fs.closeSync(fd);
    }
  } catch (e) {
    throw new CnextError('WEIGHTS_UNREADABLE', `Cannot read weight file ${file}: ${(e as Error).message}`, { cause: e });
  }
  // PK\3\4 (a local header first) or PK\5\6 (an empty zip: the torch-zip reader says what is missing).
  if (got >= 4 && head[0] === 0x50 && head[1] === 0x4b && ((head[2] === 3 && head[3] === 4) || (head[2] === 5 && head[3] === 6))) {
    return 'torch-zip';
  }
  // safetensors: u64 header length, then the JSON header, which starts with '{'.
  if (got >= 9 && head[8] === 0x7b) return 'safetensors';
  if (got >= 2 && head[0] === 0x80 && head[1] <= 5) {
    throw new CnextError(
      'WEIGHTS_UNSUPPORTED',
      `${file} is a PyTorch file in the legacy (pre-1.6, non-zip) format, which is not supported`,
      { solutions: ['Load it in PyTorch and save it again with torch.save (zip format), or convert it to safetensors.'] },
    );
  }
  const hex = [...head.subarray(0, Math.min(got, 8))].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  throw new CnextError(
    'WEIGHTS_UNKNOWN_FORMAT',
    `${file} is neither safetensors nor a PyTorch zip (${got ? `starts with ${hex}` : 'empty file'})`,
  );
}

export function openWeightFile(file: string): WeightSource {
  return sniffWeightFormat(file) === 'torch-zip' ? openTorchZip(file) : openSafetensors(file);
}
