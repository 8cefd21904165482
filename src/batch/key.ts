// What decides an item's output: the contents of its video and photo, the resolved options (not the device or
// memory mode, which change how, not what) and the models. Equal keys + the recorded output still there → skip.
import { sha256File } from '../../models/cache.ts';
import { RunHasher } from '../diffusion/checkpoint.ts';
import type { JobOptions } from '../job/options.ts';

export async function itemKey(
  item: { video: string; ref: string; options: JobOptions },
  modelsKey: string,
  signal?: AbortSignal,
): Promise<string> {
  const [video, ref] = [await sha256File(item.video, signal), await sha256File(item.ref, signal)];
  return new RunHasher()
    .text('format', 'cnext-batch-item-1')
    .text('video', video)
    .text('ref', ref)
    .json('options', { ...item.options, device: undefined, lowMemory: undefined })
    .text('models', modelsKey)
    .digest();
}
