// `cnext doctor [--device cpu|cuda] [--precision p] [--gpu N] [--json]`: what this machine offers (onnxruntime
// and its providers, CUDA/cuDNN, GPUs, ffmpeg) and whether every network builds and runs on the device, each
// forward in a child process so a crashing provider is reported, never fatal.
import type { Command } from 'commander';
import { Option } from 'commander';
import { checkNetworks, describeFailure, type ChildRequest, type NetworkReport } from '../doctor/check.ts';
import { probeMachine, probeOrt, type MachineFacts } from '../doctor/probe.ts';
import { addDeviceFlags, parseDeviceFlags, type DeviceFlags } from './device-flags.ts';

interface DoctorOptions extends DeviceFlags {
  json?: boolean;
  child?: string;
}

function pad(s: string, n = 20): string {
  return s.padEnd(n);
}

export function formatFacts(f: MachineFacts): string[] {
  const ort = f.onnxruntime;
  const lines = [
    `${pad('onnxruntime-node')}${ort.version} (${ort.binDir})`,
    `${pad('native libraries')}${ort.libraries.join(', ') || 'none found'}`,
    `${pad('CUDA provider')}${ort.cudaProvider ? 'libonnxruntime_providers_cuda.so found' : 'not installed (ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install.js)'}`,
    `${pad('CUDA libraries')}${f.cudaLibraries.length ? f.cudaLibraries.join(', ') : 'not found (LD_LIBRARY_PATH, ldconfig, /usr/local/cuda)'}`,
    `${pad('CUDA driver')}${f.cudaDriverVersion ?? 'not found (no nvidia-smi)'}`,
  ];
  if (f.gpus === undefined) lines.push(`${pad('GPU')}not found (no nvidia-smi)`);
  else if (!f.gpus.length) lines.push(`${pad('GPU')}nvidia-smi lists none`);
  else for (const g of f.gpus) lines.push(`${pad(`GPU ${g.index}`)}${g.name}, ${g.memoryFreeMiB} MiB free of ${g.memoryTotalMiB} MiB, driver ${g.driver}`);
  lines.push(`${pad('ffmpeg')}${'path' in f.ffmpeg ? `${f.ffmpeg.path} (${f.ffmpeg.version})` : `not usable: ${f.ffmpeg.error}`}`);
  return lines;
}

export function formatReport(r: NetworkReport): string {
  const time = r.seconds !== undefined ? ` ${r.seconds.toFixed(2)} s` : '';
  if (r.status === 'ok') return `  ${pad(r.label)}OK${time}`;
  const tag = r.status === 'crash' ? 'CRASH' : r.status === 'timeout' ? 'TIMEOUT' : 'ERROR';
  return `  ${pad(r.label)}${tag} ${describeFailure(r)}`;
}

export function register(program: Command): void {
  const cmd = program
    .command('doctor')
    .description('check this machine: onnxruntime, CUDA, GPUs, ffmpeg, and one forward of every network on the device (in child processes)')
    .option('--json', 'print one JSON object');
  addDeviceFlags(cmd, 'cuda when its provider is installed, else cpu')
    .addOption(new Option('--child <json>').hideHelp())
    .action(async (o: DoctorOptions) => {
      if (o.child) {
        const { runChecksInThisProcess } = await import('../doctor/networks.ts');
        const req = JSON.parse(o.child) as ChildRequest;
        await runChecksInThisProcess(req.names, req.model, req.target);
        return;
      }
      const target = parseDeviceFlags(o, probeOrt().cudaProvider ? 'cuda' : 'cpu');
      const facts = await probeMachine();
      const out = (s: string) => process.stdout.write(`${s}\n`);
      if (!o.json) {
        for (const l of formatFacts(facts)) out(l);
        out(`Networks on ${target.device}${target.deviceId ? ` ${target.deviceId}` : ''} (${target.precision}), tiny synthetic weights, one forward each in a child process:`);
      }
      const reports = await checkNetworks(target, { onResult: (r) => !o.json && out(formatReport(r)) });
      const failed = reports.filter((r) => r.status !== 'ok').length;
      if (o.json) out(JSON.stringify({ ...facts, target, networks: reports, ok: failed === 0 }, null, 2));
      else out(failed ? `${failed} of ${reports.length} networks failed` : `all ${reports.length} networks OK`);
      if (failed) process.exitCode = 1;
    });
}
