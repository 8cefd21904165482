// `cnext weights FILE...`: list every tensor of a weight file (name, dtype, shape, bytes).
import type { Command } from 'commander';
import { openWeightFile } from '../weights/open.ts';

export function register(program: Command): void {
  program
    .command('weights')
    .description('list every tensor of .safetensors or PyTorch .bin files (name, dtype, shape, bytes)')
    .argument('<files...>', 'weight files')
    .action((files: string[]) => {
      for (const file of files) {
        const src = openWeightFile(file);
        let total = 0;
        process.stdout.write(`${file}\n`);
        for (const name of src.names().sort()) {
          const e = src.get(name);
          total += e.length;
          process.stdout.write(`  ${name}\t${e.dtype}\t[${e.shape.join(', ')}]\t${e.length}\n`);
        }
        process.stdout.write(`  ${src.names().length} tensors, ${total} bytes\n`);
      }
    });
}
