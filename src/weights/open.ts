// Open any supported weight file by sniffing its first bytes (not its extension).
import fs from 'node:fs';
import { CnextError } from '../core/errors.ts';
import { openSafetensors } from './safetensors.ts';
import type { WeightSource } from './weight-source.ts';

export function openWeightFile(file: string): WeightSource {
  let head: Buffer;
  try {
    const fd = fs.openSync(file, 'r');
    head = Buffer.alloc(4);
    fs.readSync(fd, head, 0, 4, 0);
    fs.closeSync(fd);
  } catch (e) {
    throw new CnextError('WEIGHTS_UNREADABLE', `Cannot read weight file ${file}: ${(e as Error).message}`, { cause: e });
  }
  if (head[0] === 0x50 && head[1] === 0x4b) {
    throw new CnextError('WEIGHTS_UNSUPPORTED', `${file} is a zip (PyTorch .bin); torch-zip reading is not wired yet`);
  }
  return openSafetensors(file);
}
