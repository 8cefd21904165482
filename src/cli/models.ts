// `cnext models list|pull|verify`: what is installed, fetch what is missing (resumable), check what is there.
// Other commands that belong under `cnext models` (e.g. `synth`) register themselves through `modelsGroup(program)`
// from their own file, listed in main.ts like any command.
import { Command, Option } from 'commander';
import { CnextError } from '../core/errors.ts';
import type { JobEvent } from '../core/events.ts';
import { modelStatus, verifyModel, type FileVerdict, type ModelStatus } from '../../models/cache.ts';
import { hubEndpoint, hubToken, pullModel } from '../../models/download.ts';
import { modelsRoot } from '../../models/layout.ts';
import { DEFAULT_PULL, REGISTRY, findModel, type ModelEntry } from '../../models/registry.ts';

export interface ModelsCliDeps {
  readonly registry?: readonly ModelEntry[];
  readonly env?: NodeJS.ProcessEnv;
  readonly out?: (s: string) => void;
  readonly signal?: AbortSignal;
  /** Minimum time between two progress lines for one file. */
  readonly progressMs?: number;
}

/** The `models` command group, created on first use; any file can add subcommands to it. */
export function modelsGroup(program: Command): Command {
  return (
    program.commands.find((c) => c.name() === 'models') ??
    program.command('models').description('list, download and verify the model weights (cache: ~/.cache/controlnext-motion/models)')
  );
}

/** `--models DIR`, shared by every `models` subcommand. */
export function addModelsDirOption(cmd: Command): Command {
  return cmd.addOption(
    new Option('--models <dir>', 'models folder (default: $CNEXT_CACHE/models or ~/.cache/controlnext-motion/models)'),
  );
}

export function register(program: Command, deps: ModelsCliDeps = {}): void {
  const group = modelsGroup(program);
  const registry = deps.registry ?? REGISTRY;
  const env = deps.env ?? process.env;
  const out = deps.out ?? ((s: string) => void process.stdout.write(s));

  addModelsDirOption(group.command('list').description('show every model: installed, partial or missing, sizes and paths'))
    .option('--json', 'one JSON document instead of a table')
    .action((opts: { models?: string; json?: boolean }) => {
      const root = modelsRoot({ models: opts.models, env });
      const statuses = registry.map((m) => modelStatus(root, m));
      if (opts.json) out(JSON.stringify({ root, models: statuses.map(statusJson) }, null, 2) + '\n');
      else out(formatList(root, statuses));
    });

  addModelsDirOption(
    group
      .command('pull')
      .description(`download models from the Hugging Face hub (resumable; default: ${DEFAULT_PULL.join(', ')})`)
      .argument('[names...]', 'registry names (see `cnext models list`)'),
  )
    .option('--all-files', 'also fetch optional files (e.g. the plain SVD UNet)')
    .option('--retries <n>', 'automatic resumes after a dropped connection, per file', '3')
    .action(async (names: string[], opts: { models?: string; allFiles?: boolean; retries: string }) => {
      const root = modelsRoot({ models: opts.models, env });
      const retries = Number(opts.retries);
      if (!Number.isInteger(retries) || retries < 0) {
        throw new CnextError('INVALID_PARAMETER', `Expected integer >= 0 for --retries but received '${opts.retries}' of type string`);
      }
      const entries = resolveNames(registry, names.length ? names : DEFAULT_PULL);
      const endpoint = hubEndpoint(env);
      // Ctrl-C stops cleanly: partial files stay for the next run, the error says how to resume.
      const ac = new AbortController();
      const onSigint = (): void => ac.abort();
      if (!deps.signal) process.once('SIGINT', onSigint);
      const signal = deps.signal ?? ac.signal;
      out(`models folder: ${root}\n`);
      try {
        for (const entry of entries) {
          if (entry.source.kind !== 'hf') {
            out(`${entry.name}: built locally from ${entry.source.from} (${entry.source.builder}); nothing to download\n`);
            continue;
          }
          out(`${entry.name}: ${endpoint}/${entry.source.repo} (${entry.source.revision})${entry.source.gated ? ', gated' : ''}\n`);
          const files = await pullModel(entry, {
            root,
            endpoint,
            token: hubToken(env),
            allFiles: opts.allFiles,
            signal,
            retries,
            progressMs: deps.progressMs ?? 1000,
            emit: progressPrinter(out),
          });
          const got = files.filter((f) => f.status === 'downloaded');
          out(`${entry.name}: ${got.length} downloaded, ${files.length - got.length} already present\n`);
        }
      } finally {
        process.removeListener('SIGINT', onSigint);
      }
    });

  addModelsDirOption(
    group
      .command('verify')
      .description('check size, sha256 (where known) and that each file parses (safetensors header, JSON, zip)')
      .argument('[names...]', 'registry names (default: every installed or partial model)'),
  )
    .option('--no-hash', 'skip the sha256 pass (fast; sizes and headers only)')
    .action(async (names: string[], opts: { models?: string; hash: boolean }) => {
      const root = modelsRoot({ models: opts.models, env });
      const entries = names.length
        ? resolveNames(registry, names)
        : registry.filter((m) => modelStatus(root, m).state !== 'missing');
      if (!entries.length) {
        out(`no models in ${root}; run \`cnext models pull\`\n`);
        return;
      }
      let failed = 0;
      for (const entry of entries) {
        out(`${entry.name}\n`);
        await verifyModel(root, entry, {
          hash: opts.hash,
          signal: deps.signal,
          onFile: (v) => {
            if (v.status === 'failed') failed++;
            out(formatVerdict(v));
          },
        });
      }
      if (failed) {
        throw new CnextError('MODELS_VERIFY_FAILED', `${failed} file${failed === 1 ? '' : 's'} failed verification`, {
          category: 'system',
          solutions: ['Run `cnext models pull NAME` again: missing and partial files are fetched, complete ones kept.',
            'Delete a corrupt file first so that pull fetches it afresh.'],
        });
      }
    });
}

function resolveNames(registry: readonly ModelEntry[], names: readonly string[]): ModelEntry[] {
  return names.map((n) => {
    const e = findModel(n, registry);
    if (!e) {
      throw new CnextError('MODEL_UNKNOWN', `Unknown model '${n}'. Known: ${registry.map((m) => m.name).join(', ')}`);
    }
    return e;
  });
}

/** Human-readable byte counts: 1.23 GB (decimal units, like the hub). */
export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = -1;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ${units[i]}`;
}

function formatList(root: string, statuses: readonly ModelStatus[]): string {
  const lines = [`models folder: ${root}`];
  for (const s of statuses) {
    const e = s.entry;
    const src =
      e.source.kind === 'hf'
        ? `hf:${e.source.repo}@${e.source.revision}${e.source.gated ? ' (gated: needs HF_TOKEN)' : ''}`
        : `built locally from ${e.source.from}`;
    const size = s.bytesExpected !== undefined ? `${formatBytes(s.bytesOnDisk)} of ${formatBytes(s.bytesExpected)}` : `${formatBytes(s.bytesOnDisk)} on disk`;
    lines.push('');
    const built = e.source.kind === 'local-build' && s.state === 'missing' ? 'not built (built on first use)' : s.state;
    const state = s.synthetic ? `${built} (synthetic: random weights, preset ${s.synthetic.preset}, seed ${s.synthetic.seed})` : built;
    lines.push(`${e.name}  ${state}  ${size}${e.alternativeTo ? `  (alternative to ${e.alternativeTo})` : ''}`);
    lines.push(`  ${e.title}`);
    lines.push(`  source: ${src}`);
    lines.push(`  licence: ${e.licence.name}`);
    lines.push(`  path: ${s.dir}`);
    for (const f of s.files) {
      const exp = f.expectedBytes !== undefined ? formatBytes(f.expectedBytes) : 'size unknown';
      const have = f.state === 'missing' ? '' : `${formatBytes(f.bytes)} / `;
      lines.push(`    ${f.state.padEnd(9)} ${f.file.path}  ${have}${exp}${f.file.optional ? '  (optional)' : ''}`);
    }
  }
  return lines.join('\n') + '\n';
}

function statusJson(s: ModelStatus): Record<string, unknown> {
  return {
    name: s.entry.name,
    state: s.state,
    dir: s.dir,
    source: s.entry.source,
    licence: s.entry.licence,
    bytesOnDisk: s.bytesOnDisk,
    bytesExpected: s.bytesExpected ?? null,
    synthetic: s.synthetic ?? null,
    unknown: s.entry.unknown ?? [],
    files: s.files.map((f) => ({
      path: f.file.path,
      state: f.state,
      bytes: f.bytes,
      expectedBytes: f.expectedBytes ?? null,
      sha256: f.file.sha256 ?? null,
      optional: f.file.optional ?? false,
    })),
  };
}

function formatVerdict(v: FileVerdict): string {
  const tag = v.status === 'ok' ? 'OK  ' : v.status === 'failed' ? 'FAIL' : 'SKIP';
  const detail = v.status === 'ok' ? v.checks.join(', ') : v.problem ?? '';
  return `  ${tag} ${v.file.path}  ${detail}\n`;
}

/** Prints download events as plain lines (one per file start/end, throttled progress in between). */
function progressPrinter(out: (s: string) => void): (e: JobEvent) => void {
  let label = '';
  return (e) => {
    if (e.type === 'stage-start' && e.stage === 'download') {
      label = e.label ?? '';
      out(`  ${label}: downloading${e.total ? ` (${formatBytes(e.total)})` : ''}\n`);
    } else if (e.type === 'progress' && e.stage === 'download') {
      const pct = e.total > 0 ? ` ${((100 * e.done) / e.total).toFixed(1)}%` : '';
      out(`  ${label}: ${formatBytes(e.done)}${e.total > 0 ? ` / ${formatBytes(e.total)}` : ''}${pct}\n`);
    } else if (e.type === 'stage-end' && e.stage === 'download') {
      out(`  ${label}: done in ${e.seconds.toFixed(1)} s\n`);
    } else if (e.type === 'log') {
      out(`  ${e.level === 'warn' ? 'warning: ' : ''}${e.message}\n`);
    }
  };
}
