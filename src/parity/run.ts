// Runs fixture cases: load each case folder, pick the runner for its kind from the registry, and turn the
// checks into one PASS/FAIL result per case. Never throws for a bad case — that case FAILs and the rest run.
import path from 'node:path';
import { isCnextError } from '../core/errors.ts';
import { findCaseDirs, loadCase, readCaseJson } from './case.ts';
import { fmt } from './compare.ts';
import type { SessionOptions } from '../onnx/session.ts';
import { REDUCED_BOUND_TEXT, reducedVerdict, type ReducedVerdict } from './reduced.ts';
import { KINDS, type KindModule } from './registry.ts';
import type { OutputCheck, ParityCase } from './types.ts';

export interface CaseResult {
  /** Folder name, as printed. */
  readonly case: string;
  readonly dir: string;
  readonly kind: string | null;
  readonly pass: boolean;
  /** Worst max_abs / mean_abs over the checked outputs (NaN when nothing was compared). */
  readonly maxAbs: number;
  readonly meanAbs: number;
  /** Why the case failed (unknown kind, missing file, error, outputs over tolerance). */
  readonly reason?: string;
  readonly outputs: readonly OutputCheck[];
  readonly seconds: number;
  /** tf32/fp16 runs only: the separately labelled verdict at the reduced-precision bound (reduced.ts). */
  readonly reduced?: ReducedVerdict;
}

export interface RunOptions {
  /** Called after each case, in order (for streaming output). */
  readonly onResult?: (r: CaseResult) => void;
  /** Kind table; tests inject their own. */
  readonly kinds?: Readonly<Record<string, () => Promise<KindModule>>>;
  /** Device and precision of the networks (default CPU fp32). */
  readonly session?: SessionOptions;
}

export interface ParitySummary {
  readonly results: readonly CaseResult[];
  readonly passed: number;
  readonly failed: number;
  /** tf32/fp16 runs: cases within the reduced-precision bound (a separate count; `passed` stays strict). */
  readonly reducedPassed?: number;
}

function errorText(e: unknown, caseName: string): string {
  const msg = isCnextError(e) ? e.describe() : e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  const prefix = `${caseName}: `;
  return (msg.startsWith(prefix) ? msg.slice(prefix.length) : msg).replace(/\s*\n\s*/g, ' ');
}

/** Runs one case folder. */
export async function runCase(dir: string, options: RunOptions = {}): Promise<CaseResult> {
  const kinds = options.kinds ?? KINDS;
  const abs = path.resolve(dir);
  const name = path.basename(abs);
  const t0 = performance.now();
  let kind: string | null = null;
  const done = (r: Omit<CaseResult, 'case' | 'dir' | 'kind' | 'seconds'>): CaseResult => ({
    case: name, dir: abs, kind, seconds: (performance.now() - t0) / 1000, ...r,
  });
  const precision = options.session?.precision;
  const reduced = (checks: readonly OutputCheck[]) =>
    precision && precision !== 'fp32' ? { reduced: reducedVerdict(precision, checks) } : {};
  const failed = (reason: string, outputs: readonly OutputCheck[] = []): CaseResult =>
    done({ pass: false, maxAbs: Number.NaN, meanAbs: Number.NaN, reason, outputs, ...reduced(outputs) });
  try {
    kind = readCaseJson(abs).kind;
    const load = Object.hasOwn(kinds, kind) ? kinds[kind] : undefined;
    if (!load) return failed(`unknown kind "${kind}" (registered: ${Object.keys(kinds).sort().join(', ') || 'none'})`);
    const c: ParityCase = loadCase(abs, options.session);
    const mod = await load();
    if (typeof mod.run !== 'function') return failed(`the runner module of kind "${kind}" exports no run()`);
    const checks = await mod.run(c);
    if (!checks.length) return failed(`the ${kind} runner compared nothing`);
    let maxAbs = 0;
    let meanAbs = 0;
    for (const ch of checks) {
      maxAbs = Math.max(maxAbs, ch.maxAbs);
      meanAbs = Math.max(meanAbs, ch.meanAbs);
    }
    const bad = checks.filter((ch) => !ch.pass);
    if (!bad.length) return done({ pass: true, maxAbs, meanAbs, outputs: checks, ...reduced(checks) });
    const shown = bad.slice(0, 3).map((ch) => `${ch.name}: ${ch.detail ?? `max_abs=${fmt(ch.maxAbs)} mean_abs=${fmt(ch.meanAbs)}`}`);
    if (bad.length > 3) shown.push(`(+${bad.length - 3} more)`);
    return done({ pass: false, maxAbs, meanAbs, reason: `${bad.length} of ${checks.length} outputs over tolerance: ${shown.join('; ')}`, outputs: checks, ...reduced(checks) });
  } catch (e) {
    return failed(isCnextError(e) && e.code === 'PARITY_MISSING_FILE' ? errorText(e, name) : `error: ${errorText(e, name)}`);
  }
}

/** Finds the cases under `dirs` (see findCaseDirs) and runs them one after the other. */
export async function runParity(dirs: readonly string[], options: RunOptions = {}): Promise<ParitySummary> {
  const results: CaseResult[] = [];
  for (const dir of findCaseDirs(dirs)) {
    const r = await runCase(dir, options);
    results.push(r);
    options.onResult?.(r);
  }
  const passed = results.filter((r) => r.pass).length;
  const reduced = results.filter((r) => r.reduced);
  return {
    results, passed, failed: results.length - passed,
    ...(reduced.length ? { reducedPassed: reduced.filter((r) => r.reduced!.pass).length } : {}),
  };
}

/** `PASS <case> max_abs=<x> mean_abs=<y>` or `FAIL <case> <reason>`. */
export function formatResult(r: CaseResult): string {
  const stats = `max_abs=${fmt(r.maxAbs)} mean_abs=${fmt(r.meanAbs)}`;
  const line = r.pass ? `PASS ${r.case} ${stats}` : Number.isNaN(r.maxAbs) ? `FAIL ${r.case} ${r.reason}` : `FAIL ${r.case} ${r.reason} (${stats})`;
  if (!r.reduced) return line;
  const v = r.reduced;
  return `${line} [${v.precision} bound ${v.pass ? 'within' : 'outside'}: ${REDUCED_BOUND_TEXT}; worst max_abs/max|ref|=${fmt(v.relMax)} mean_abs/mean|ref|=${fmt(v.relMean)}]`;
}

const num = (x: number): number | null => (Number.isFinite(x) ? x : null);

/** One JSON object per case (`--json`); non-finite numbers become null. */
export function resultJson(r: CaseResult): Record<string, unknown> {
  return {
    case: r.case,
    dir: r.dir,
    kind: r.kind,
    status: r.pass ? 'PASS' : 'FAIL',
    max_abs: num(r.maxAbs),
    mean_abs: num(r.meanAbs),
    ...(r.reason !== undefined ? { reason: r.reason } : {}),
    seconds: Number(r.seconds.toFixed(3)),
    outputs: r.outputs.map((o) => ({
      name: o.name,
      max_abs: num(o.maxAbs),
      mean_abs: num(o.meanAbs),
      pass: o.pass,
      ...(o.detail !== undefined ? { detail: o.detail } : {}),
    })),
    ...(r.reduced
      ? { reduced_precision: { precision: r.reduced.precision, bound: REDUCED_BOUND_TEXT, within: r.reduced.pass, rel_max: num(r.reduced.relMax), rel_mean: num(r.reduced.relMean) } }
      : {}),
  };
}

export function formatSummary(s: ParitySummary): string {
  const strict = `${s.passed} passed, ${s.failed} failed`;
  if (s.reducedPassed === undefined) return strict;
  const p = s.results.find((r) => r.reduced)?.reduced?.precision;
  return `${strict} (fixture tolerances); ${s.reducedPassed} of ${s.results.length} within the ${p} bound (${REDUCED_BOUND_TEXT})`;
}
