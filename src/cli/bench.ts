// `cnext bench [NAME...]`: performance measurements, each in its own process, printed as a table plus the
// ratios the issues ask for (taken within one run, on this machine).
import { Option, type Command } from 'commander';
import { CnextError } from '../core/errors.ts';
import { reportFromChild, runIsolated, startAnonSampler, type IsolatedResult } from '../bench/isolate.ts';
import { BENCHMARKS, findBenchmark } from '../bench/registry.ts';
import { addDeviceFlags, parseDeviceFlags, type DeviceFlags } from './device-flags.ts';

interface BenchOptions extends DeviceFlags {
  steps?: string;
  models?: string;
  json?: boolean;
  list?: boolean;
  child?: string;
  childArgs?: string;
  frames?: string;
  size?: string;
}

export function register(program: Command): void {
  const cmd = program
    .command('bench')
    .description('measure performance (each benchmark in its own process; ratios taken in one run)')
    .argument('[names...]', `benchmarks to run (default: all): ${BENCHMARKS.map((b) => b.name).join(', ')}`)
    .option('--models <dir>', 'models root holding (or receiving) the full-size synthetic model')
    .option('--frames <n>', 'frames for network benchmarks')
    .option('--size <WxH>', 'pixel size for network benchmarks')
    .option('--steps <n>', 'denoising steps for sampler / job-240')
    .option('--list', 'list the benchmarks and exit')
    .option('--json', 'print results as JSON');
  addDeviceFlags(cmd)
    .addOption(hidden('--child <name>'))
    .addOption(hidden('--child-args <json>'))
    .action(async (names: string[], o: BenchOptions) => {
      if (o.child) {
        const b = findBenchmark(o.child);
        if (!b) throw new CnextError('BENCH_UNKNOWN', `Unknown benchmark ${o.child}`);
        const stop = startAnonSampler();
        const result = await b.run(JSON.parse(o.childArgs ?? '{}') as Record<string, string>);
        reportFromChild(result, stop());
        return;
      }
      if (o.list) {
        for (const b of BENCHMARKS) process.stdout.write(`${b.name.padEnd(22)} ${b.description}\n`);
        return;
      }
      for (const n of names) {
        if (!findBenchmark(n)) {
          throw new CnextError('BENCH_UNKNOWN', `Unknown benchmark ${n}; choose from: ${BENCHMARKS.map((b) => b.name).join(', ')}`);
        }
      }
      const target = parseDeviceFlags(o);
      const cpuOnly = names.filter((n) => !findBenchmark(n)!.onDevice);
      if (target.device !== 'cpu' && cpuOnly.length) {
        throw new CnextError('BENCH_CPU_ONLY', `${cpuOnly.join(', ')} measure${cpuOnly.length === 1 ? 's' : ''} the CPU only; with --device ${target.device} choose from: ${BENCHMARKS.filter((b) => b.onDevice).map((b) => b.name).join(', ')}`);
      }
      if (target.device === 'cuda') (await import('../onnx/session.ts')).assertProviderAvailable('cuda');
      const selected = names.length ? names : BENCHMARKS.filter((b) => target.device === 'cpu' || b.onDevice).map((b) => b.name);
      const args: Record<string, string> = { device: target.device, precision: target.precision };
      if (target.deviceId !== undefined) args.gpu = String(target.deviceId);
      if (o.steps) args.steps = o.steps;
      if (o.models) args.models = o.models;
      if (o.frames) args.frames = o.frames;
      if (o.size) args.size = o.size;
      const results: Record<string, IsolatedResult> = {};
      for (const name of selected) {
        if (!o.json) process.stdout.write(`▶ ${name} …\n`);
        const r = await runIsolated(name, args, (line) => !o.json && process.stdout.write(`  ${line}\n`));
        results[name] = r;
        if (!o.json) process.stdout.write(formatResult(name, r));
      }
      const ratios = deriveRatios(results);
      if (o.json) process.stdout.write(`${JSON.stringify({ results, ratios }, null, 2)}\n`);
      else if (Object.keys(ratios).length) {
        process.stdout.write('Ratios (same run):\n');
        for (const [k, v] of Object.entries(ratios)) process.stdout.write(`  ${k.padEnd(44)} ${fmt(v)}\n`);
      }
    });
}

function hidden(flags: string): Option {
  return new Option(flags).hideHelp();
}

function fmt(v: unknown): string {
  if (typeof v !== 'number') return String(v);
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toPrecision(3);
}

function formatResult(name: string, r: IsolatedResult): string {
  const fields = Object.entries(r.result).map(([k, v]) => `${k}=${fmt(v)}`);
  const anon = r.peakAnonMB === undefined ? '' : `  peakAnon=${fmt(r.peakAnonMB)}MB`;
  const g = r.peakGpu;
  const gpu = g ? `  peakGPU=${g.processMiB !== undefined ? `${fmt(g.processMiB)}MiB (process)` : `${fmt(g.deviceDeltaMiB)}MiB (device delta)`}` : '';
  return `  ${name}: ${fields.join('  ')}  peakRSS=${fmt(r.peakRssMB)}MB${anon}${gpu}  wall=${fmt(r.wallSec)}s\n`;
}

/** Ratios across benchmarks of this run (only those whose inputs ran). */
export function deriveRatios(results: Record<string, IsolatedResult>): Record<string, number> {
  const out: Record<string, number> = {};
  const num = (name: string, key: string): number | undefined => {
    const v = results[name]?.result[key];
    return typeof v === 'number' ? v : undefined;
  };
  const peak = num('conv-peak', 'gflops');
  const flops = num('unet-flops', 'flops');
  const perCall = num('unet', 'secondsPerCall');
  if (flops && perCall) {
    out['UNet achieved GFLOP/s'] = flops / perCall / 1e9;
    if (peak) out['UNet GFLOP/s ÷ conv peak'] = flops / perCall / 1e9 / peak;
  }
  const fileMB = num('weights-load', 'fileMB');
  if (fileMB && results['weights-load']) out['weights-load peak RSS ÷ fp16 size'] = results['weights-load'].peakRssMB / fileMB;
  if (fileMB && results['weights-load-lowmem']) out['weights-load-lowmem peak RSS ÷ fp16 size'] = results['weights-load-lowmem'].peakRssMB / fileMB;
  for (const name of ['unet', 'unet-lowmem']) {
    const w = num(name, 'weightsMB');
    const r = results[name];
    if (w && r) {
      out[`${name} peak RSS ÷ fp16 weight size`] = r.peakRssMB / w;
      if (r.peakAnonMB !== undefined) out[`${name} peak anonymous memory ÷ fp16 weight size`] = r.peakAnonMB / w;
    }
  }
  const withC = num('controlnext-overhead', 'stepWithControlSec');
  const without = num('controlnext-overhead', 'stepWithoutControlSec');
  if (withC && without) out['ControlNeXt share of a denoising step'] = (withC - without) / withC;
  const branch = num('controlnext-overhead', 'controlNeXtSec');
  const unetControl = num('controlnext-overhead', 'unetControlSec');
  if (branch && unetControl) out['ControlNeXt branch ÷ UNet call (target ≤ 0.05)'] = branch / unetControl;
  for (const [name, r] of Object.entries(results)) {
    if (r.peakGpu) out[`${name} peak GPU memory GiB (${r.peakGpu.processMiB !== undefined ? 'process' : 'device delta'})`] = (r.peakGpu.processMiB ?? r.peakGpu.deviceDeltaMiB) / 1024;
  }
  return out;
}
