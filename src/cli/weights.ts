// `cnext weights FILE...`: list every tensor of a weight file (name, dtype, shape, bytes). The format is
// sniffed from the first bytes (safetensors or PyTorch zip); a malformed or hostile file is a one-line error.
import type { Command } from 'commander';
import { openWeightFile } from '../weights/open.ts';

export function register(program: Command): void {
  program
    .command('weights')
    .description('list every tensor of .safetensors or PyTorch .bin files (name, dtype, shape, bytes)')
    .argument('<files...>', 'weight files')
    .option('--offsets', 'also print each tensor\'s byte offset in the file')
    .action((files: string[], opts: { offsets?: boolean }) => {
      for (const file of files) {
        const src = openWeightFile(file);
        let total = 0;
        const lines: string[] = [file];
        for (const name of src.names().sort()) {
          const e = src.get(name);
          total += e.length;
          const cols = [`  ${printable(name)}`, e.dtype, `[${e.shape.join(', ')}]`, String(e.length)];
          if (opts.offsets) cols.push(`@${e.offset}`);
          // A non-contiguous torch tensor: the bytes are the stored shape, the tensor is their transpose.
          if (e.layout) cols.push(`stored [${e.layout.storedShape.join(', ')}] perm [${e.layout.perm.join(', ')}]`);
          lines.push(cols.join('\t'));
        }
        lines.push(`  ${src.names().length} tensors, ${total} bytes`);
        process.stdout.write(`${lines.join('\n')}\n`);
      }
    });
}

/** Tensor names come from the file: escape control characters so a hostile name cannot drive the terminal. */
function printable(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
