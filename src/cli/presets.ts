// `cnext presets` (every preset with its key values) and `cnext presets show NAME` (all resolved values).
import type { Command } from 'commander';
import { withDefaults } from '../job/options.ts';
import { DEFAULT_PRESET, findPreset, flagName, listPresets, PRESET_KEYS, type Preset, type PresetsContext } from '../presets/index.ts';

export interface PresetsCliDeps extends PresetsContext {
  readonly out?: (s: string) => void;
}

/** Left-aligned columns, two spaces apart. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ').trimEnd()).join('\n') + '\n';
}

const guidance = (p: Preset): string => {
  const { guidanceMin: a, guidanceMax: b } = resolvedPreset(p).values;
  return a === b ? String(a) : `${a}–${b}`;
};

export function formatList(presets: readonly Preset[]): string {
  const rows = [['NAME', 'SIZE', 'STRIDE', 'MAX FRAMES', 'STEPS', 'GUIDANCE', 'WINDOW/OVERLAP', 'SOURCE', 'DESCRIPTION']];
  for (const p of presets) {
    const v = resolvedPreset(p).values;
    rows.push([
      p.name + (p.name === DEFAULT_PRESET ? ' *' : ''), v.size, String(v.stride), String(v.maxFrames),
      String(v.steps), guidance(p), `${v.framesPerBatch}/${v.overlap}`, p.source, p.description,
    ]);
  }
  return `${table(rows)}* default. \`cnext presets show NAME\` prints every value; flags given on the command line override them.\n`;
}

/** Every value the preset resolves to (the job's defaults under it), and where the preset sets it. */
export function resolvedPreset(p: Preset) {
  return { ...p, values: withDefaults(p.values), setByPreset: PRESET_KEYS.filter((k) => p.values[k] !== undefined) };
}

export function formatShow(p: Preset): string {
  const r = resolvedPreset(p);
  const rows = [['SETTING', 'VALUE', 'FLAG', 'FROM']];
  for (const k of PRESET_KEYS) rows.push([k, String(r.values[k]), flagName(k), r.setByPreset.includes(k) ? 'preset' : 'default']);
  return `${p.name} (${p.source}): ${p.description}\n\n${table(rows)}`;
}

export function register(program: Command, deps: PresetsCliDeps = {}): void {
  const out = deps.out ?? ((s: string) => void process.stdout.write(s));
  const ctx: PresetsContext = { env: deps.env, user: deps.user };
  const group = program
    .command('presets')
    .description('list the generation presets (built-in and from the presets file) with their values')
    .option('--json', 'print JSON instead of a table')
    .action((opts: { json?: boolean }) => {
      const all = listPresets(ctx);
      out(opts.json ? `${JSON.stringify(all, null, 2)}\n` : formatList(all));
    });
  group
    .command('show')
    .description('print every resolved value of one preset')
    .argument('<name>', 'preset name (see `cnext presets`)')
    .action((name: string) => {
      // --json belongs to `presets` (commander reads a parent's options after the subcommand too)
      const p = findPreset(name, ctx);
      out((group.opts() as { json?: boolean }).json ? `${JSON.stringify(resolvedPreset(p), null, 2)}\n` : formatShow(p));
    });
}
