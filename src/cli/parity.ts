// `cnext parity DIR...`: run golden fixture cases (../shared/fixtures/README.md) and print one line per case,
// `PASS <case> max_abs=… mean_abs=…` or `FAIL <case> <reason>`, then `N passed, M failed`. Exit status 1 if any
// case failed. `--json` prints one JSON object per case instead (the summary goes to stderr).
// `--device cuda --precision fp32` runs the networks on the GPU with TF32 off, judged by the same tolerances;
// tf32/fp16 add a separately labelled verdict at a looser bound (src/parity/reduced.ts), never a looser PASS.
import type { Command } from 'commander';
import { z } from 'zod';
import { formatResult, formatSummary, resultJson, runParity } from '../parity/run.ts';
import { addDeviceFlags, parseDeviceFlags } from './device-flags.ts';

export const options = z.object({
  json: z.boolean().default(false).describe('one JSON object per case on stdout'),
  device: z.string().optional(),
  precision: z.string().optional(),
  gpu: z.string().optional(),
});
export type ParityOptions = z.infer<typeof options>;

export interface ParityIo {
  readonly stdout: (s: string) => void;
  readonly stderr: (s: string) => void;
}

const processIo: ParityIo = {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
};

/** Runs the cases and returns the exit status (0 all passed, 1 otherwise). */
export async function parityCommand(dirs: readonly string[], opts: ParityOptions, io: ParityIo = processIo): Promise<number> {
  const target = parseDeviceFlags(opts);
  if (target.device === 'cuda') (await import('../onnx/session.ts')).assertProviderAvailable('cuda');
  const summary = await runParity(dirs, {
    session: { provider: target.device, precision: target.precision, deviceId: target.deviceId },
    onResult: (r) => io.stdout(`${opts.json ? JSON.stringify(resultJson(r)) : formatResult(r)}\n`),
  });
  (opts.json ? io.stderr : io.stdout)(`${formatSummary(summary)}\n`);
  return summary.failed > 0 ? 1 : 0;
}

export function register(program: Command): void {
  const cmd = program
    .command('parity')
    .description('check the implementation against golden fixture folders (a case folder or a folder of cases)')
    .argument('<dirs...>', 'case folders (with case.json) or folders holding case folders')
    .option('--json', 'one JSON object per case on stdout');
  addDeviceFlags(cmd)
    .action(async (dirs: string[], raw: unknown) => {
      const code = await parityCommand(dirs, options.parse(raw));
      if (code !== 0) process.exitCode = code;
    });
}
