// `cnext` entry: parses argv with commander, runs one command, formats errors. Each command lives in
// its own file under src/cli/ and exports `register(program)`; this file only lists them.
import { Command, CommanderError } from 'commander';
import { CnextError, EXIT_CODE, isCnextError } from '../core/errors.ts';

type Register = (program: Command) => void;

/** Command modules, loaded lazily so `cnext weights` doesn't pay for ink or onnxruntime. */
const COMMANDS: ReadonlyArray<{ name: string; load: () => Promise<{ register: Register }> }> = [
  { name: 'weights', load: () => import('./weights.ts') },
  { name: 'models', load: () => import('./models.ts') },
  { name: 'parity', load: () => import('./parity.ts') },
  { name: 'pose', load: () => import('./pose.ts') },
  { name: 'bench', load: () => import('./bench.ts') },
  { name: 'run', load: () => import('./run.ts') },
  { name: 'demo', load: () => import('./demo.ts') },
  { name: 'models-synth', load: () => import('./models-synth.ts') },
  { name: 'batch', load: () => import('./batch.ts') },
  { name: 'presets', load: () => import('./presets.ts') },
];

export async function buildProgram(): Promise<Command> {
  const program = new Command('cnext')
    .description('Make the person in a photo perform the motion of a driving video (SVD + ControlNeXt on ONNX Runtime).')
    .showHelpAfterError()
    .exitOverride();
  for (const c of COMMANDS) (await c.load()).register(program);
  return program;
}

/** Runs the CLI and returns the exit status. */
export async function main(argv: readonly string[]): Promise<number> {
  const program = await buildProgram();
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    return reportError(e);
  }
}

export function reportError(e: unknown): number {
  if (e instanceof CommanderError) {
    // commander already printed the message (or help/version, which exit 0)
    return e.exitCode === 0 ? 0 : EXIT_CODE.user;
  }
  if (isCnextError(e)) {
    process.stderr.write(`cnext: ${e.describe()}\n`);
    return EXIT_CODE[e.category];
  }
  const err = e instanceof Error ? e : new Error(String(e));
  process.stderr.write(`cnext: internal error: ${err.stack ?? err.message}\n`);
  return 1;
}

export { CnextError };
