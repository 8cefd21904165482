// The device check: every network built from tiny synthetic weights on the device and run once, in child
// processes (a native crash ends a child, not the caller). `cnext doctor` prints it; `checkDevice` is the preflight
// for run/batch: one CnextError line naming the network that failed.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkDevicePrecision } from '../core/device.ts';
import { CnextError } from '../core/errors.ts';
import { assertProviderAvailable } from '../onnx/session.ts';
import { runIsolatedChecks, type CheckResult, type ChildCommand } from './isolate.ts';
import { NETWORK_CHECKS, writeTinyModel, type CheckTarget, type TinyModel } from './networks.ts';

const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/cnext.js');

export interface NetworkReport extends CheckResult {
  readonly label: string;
}

export interface CheckOptions {
  /** Limit of one child process, ms (default 180 s: CUDA session creation plus cuDNN's algorithm search). */
  readonly timeoutMs?: number;
  readonly onResult?: (r: NetworkReport) => void;
  /** Which checks (default: all, in pipeline order). */
  readonly networks?: readonly string[];
}

/** What the child gets on its command line (`cnext doctor --child JSON`). */
export interface ChildRequest {
  readonly names: readonly string[];
  readonly model: TinyModel;
  readonly target: CheckTarget;
}

export function childCommand(request: ChildRequest): ChildCommand {
  return { command: process.execPath, args: [CLI, 'doctor', '--child', JSON.stringify(request)] };
}

const labelOf = (name: string): string => NETWORK_CHECKS.find((c) => c.name === name)?.label ?? name;

/** Runs the network checks on `target`, each network in a child process until one crashes (then a fresh one). */
export async function checkNetworks(target: CheckTarget, options: CheckOptions = {}): Promise<NetworkReport[]> {
  checkDevicePrecision(target.device, target.precision);
  assertProviderAvailable(target.device);
  const names = options.networks ?? NETWORK_CHECKS.map((c) => c.name);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cnext-doctor-'));
  try {
    const model = writeTinyModel(root);
    const results = await runIsolatedChecks(names, (remaining) => childCommand({ names: remaining, model, target }), {
      timeoutMs: options.timeoutMs ?? 180_000,
      onResult: (r) => options.onResult?.({ ...r, label: labelOf(r.name) }),
    });
    return results.map((r) => ({ ...r, label: labelOf(r.name) }));
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

/** "crashed (SIGSEGV)", "failed: <message>", "hung (…)". */
export function describeFailure(r: CheckResult): string {
  if (r.status === 'crash') return `crashed the process${r.signal ? ` (${r.signal})` : ''}`;
  if (r.status === 'timeout') return `did not finish (${r.message ?? 'timeout'})`;
  return `failed: ${r.message ?? 'unknown error'}`;
}

/**
 * Preflight for run/batch: resolves when every network builds and runs once on the device; otherwise throws one
 * DEVICE_CHECK_FAILED line naming the (first) failing network.
 */
export async function checkDevice(target: CheckTarget, options: CheckOptions = {}): Promise<void> {
  const reports = await checkNetworks(target, options);
  const bad = reports.filter((r) => r.status !== 'ok');
  if (!bad.length) return;
  const first = bad[0];
  const more = bad.length > 1 ? ` (also failing: ${bad.slice(1).map((r) => r.label).join(', ')})` : '';
  const flags = `--device ${target.device} --precision ${target.precision}${target.deviceId ? ` --gpu ${target.deviceId}` : ''}`;
  throw new CnextError(
    'DEVICE_CHECK_FAILED',
    `Device check on ${target.device} (${target.precision}): the ${first.label} ${describeFailure(first)}${more}`,
    {
      category: 'third-party',
      solutions: [
        `See every network: cnext doctor ${flags}`,
        ...(target.device === 'cuda' && target.precision !== 'fp32' ? ['Try strict fp32 on the GPU: --precision fp32'] : []),
        ...(target.device === 'cuda' ? ['Or run on the CPU: --device cpu'] : []),
      ],
    },
  );
}
