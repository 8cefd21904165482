// `cnext` entry: parses argv with commander, runs one command, formats errors. Each command lives in
// its own file under src/cli/ and exports `register(program)`; this file only lists them.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { CnextError, EXIT_CODE, isCnextError } from '../core/errors.ts';

type Register = (program: Command) => void;

/**
 * Command modules by the command word they serve (`models synth` lives in its own file). Only the modules of the
 * command being run are imported, so `cnext weights` doesn't load ink or onnxruntime; help loads them all.
 */
const COMMANDS: ReadonlyArray<{ command: string; load: () => Promise<{ register: Register }> }> = [
  { command: 'weights', load: () => import('./weights.ts') },
  { command: 'models', load: () => import('./models.ts') },
  { command: 'models', load: () => import('./models-synth.ts') },
  { command: 'parity', load: () => import('./parity.ts') },
  { command: 'pose', load: () => import('./pose.ts') },
  { command: 'bench', load: () => import('./bench.ts') },
  { command: 'run', load: () => import('./run.ts') },
  { command: 'demo', load: () => import('./demo.ts') },
  { command: 'batch', load: () => import('./batch.ts') },
  { command: 'presets', load: () => import('./presets.ts') },
  { command: 'doctor', load: () => import('./doctor.ts') },
  { command: 'worker', load: () => import('./worker.ts') },
  { command: 'queue', load: () => import('./queue.ts') },
];

/** package.json's version. */
export function cnextVersion(): string {
  const file = fileURLToPath(new URL('../../package.json', import.meta.url));
  return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
}

/**
 * commander's usage errors (missing option, unknown flag or command) as one line on stderr that names the help to
 * read: `cnext: required option '--out <file.mp4>' not specified (see cnext run --help)`.
 */
function oneLineUsageErrors(command: Command, name: string): void {
  command.showHelpAfterError(false).configureOutput({
    outputError: (str, write) => write(`cnext: ${str.replace(/^error: /, '').trim().split('\n').join(' ')} (see ${name} --help)\n`),
  });
  for (const sub of command.commands) oneLineUsageErrors(sub, `${name} ${sub.name()}`);
}

/** The program with the commands that `argv` can reach (all of them when argv names none, e.g. for help). */
export async function buildProgram(argv: readonly string[] = []): Promise<Command> {
  const program = new Command('cnext')
    .description('Make the person in a photo perform the motion of a driving video (SVD + ControlNeXt on ONNX Runtime).')
    .version(cnextVersion(), '-V, --version', 'print the version')
    .exitOverride();
  const wanted = COMMANDS.some((c) => c.command === argv[0]) ? COMMANDS.filter((c) => c.command === argv[0]) : COMMANDS;
  for (const c of wanted) (await c.load()).register(program);
  oneLineUsageErrors(program, 'cnext');
  return program;
}

/** Runs the CLI and returns the exit status. */
export async function main(argv: readonly string[]): Promise<number> {
  const program = await buildProgram(argv);
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
  // A file-system error nothing turned into a CnextError (disk, permissions): still one line, a system problem.
  const sys = e as NodeJS.ErrnoException;
  if (e instanceof Error && typeof sys.code === 'string' && typeof sys.syscall === 'string') {
    process.stderr.write(`cnext: ${sys.message}\n`);
    return EXIT_CODE.system;
  }
  // A bug, not a user's mistake: one line still; the stack trace on request.
  const err = e instanceof Error ? e : new Error(String(e));
  const stack = process.env.CNEXT_DEBUG ? `\n${err.stack ?? ''}` : ' (CNEXT_DEBUG=1 prints the stack trace; please report it)';
  process.stderr.write(`cnext: internal error: ${err.message}${stack}\n`);
  return 1;
}

export { CnextError };
