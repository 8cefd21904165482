// The generic parity check (../shared/fixtures/README.md §2): for every `out.*` tensor of a case,
// max|yours − ref| ≤ max_abs and mean|yours − ref| ≤ mean_abs, with `tolerance.per_output[name]` overriding
// the case-wide pair. Network runners produce a Map of tensors and hand it here.
import { absDiff, numel, shapeString, type Tensor } from '../core/tensor.ts';
import type { OutputCheck, ParityCase } from './types.ts';

export type Produced = ReadonlyMap<string, Float32Array | Tensor>;

export interface CompareOptions {
  /** Only outputs for which this returns true are required and checked (default: every `out.*`). */
  readonly select?: (name: string) => boolean;
}

export interface ToleranceFor {
  readonly max_abs: number;
  readonly mean_abs: number;
}

/** Tolerance that applies to one tensor: `per_output[name]` (with or without the `out.` prefix), else the case's. */
export function toleranceFor(c: ParityCase, name: string): ToleranceFor {
  const t = c.json.tolerance;
  const per = t.per_output;
  const own = per?.[name] ?? (name.startsWith('out.') ? per?.[name.slice(4)] : undefined);
  return own ?? { max_abs: t.max_abs, mean_abs: t.mean_abs };
}

function isTensor(v: Float32Array | Tensor): v is Tensor {
  return !(v instanceof Float32Array);
}

function asNumbers(t: Tensor): ArrayLike<number> {
  if (t.type === 'int64') return Float64Array.from(t.data as BigInt64Array, Number);
  if (t.type === 'float16') throw new RangeError('compare float16 tensors after converting them to float32');
  return t.data as ArrayLike<number>;
}

function sameShape(ref: readonly number[], got: readonly number[]): boolean {
  if (ref.length === got.length && ref.every((d, i) => d === got[i])) return true;
  // 0-d values are stored with shape [1] (README §1): accept [] for [1] and vice versa.
  return numel(ref) === 1 && numel(got) === 1 && ref.length <= 1 && got.length <= 1;
}

/** Compares one produced tensor against a reference tensor with the given bounds. */
export function checkTensor(
  name: string,
  ref: Tensor,
  got: Float32Array | Tensor,
  tol: ToleranceFor,
): OutputCheck {
  const fail = (detail: string): OutputCheck => ({ name, maxAbs: Number.POSITIVE_INFINITY, meanAbs: Number.POSITIVE_INFINITY, pass: false, detail });
  if (isTensor(got)) {
    if (!sameShape(ref.dims, got.dims)) return fail(`shape ${shapeString(got.dims)}, expected ${shapeString(ref.dims)}`);
  } else if (got.length !== numel(ref.dims)) {
    return fail(`${got.length} values, expected ${numel(ref.dims)} (shape ${shapeString(ref.dims)})`);
  }
  const refValues = asNumbers(ref);
  const { maxAbs, meanAbs } = absDiff(isTensor(got) ? asNumbers(got) : got, refValues);
  const { refMaxAbs, refMeanAbs } = magnitude(refValues);
  const over: string[] = [];
  if (!(maxAbs <= tol.max_abs)) over.push(`max_abs ${fmt(maxAbs)} > ${fmt(tol.max_abs)}`);
  if (!(meanAbs <= tol.mean_abs)) over.push(`mean_abs ${fmt(meanAbs)} > ${fmt(tol.mean_abs)}`);
  return { name, maxAbs, meanAbs, pass: over.length === 0, refMaxAbs, refMeanAbs, ...(over.length ? { detail: over.join(', ') } : {}) };
}

function magnitude(v: ArrayLike<number>): { refMaxAbs: number; refMeanAbs: number } {
  let max = 0;
  let sum = 0;
  for (let i = 0; i < v.length; i++) {
    const a = Math.abs(v[i]);
    if (a > max) max = a;
    sum += a;
  }
  return { refMaxAbs: max, refMeanAbs: v.length ? sum / v.length : 0 };
}

/**
 * Checks every `out.*` tensor of the case (each must be produced, with the reference's shape), plus any produced
 * `dbg.*` tensor the case also holds (those use `per_output[name]` or the case tolerance). Produced names the case
 * does not hold are reported as failures: a misspelt output must not pass silently.
 */
export function compareOutputs(c: ParityCase, produced: Produced, options: CompareOptions = {}): OutputCheck[] {
  const select = options.select ?? (() => true);
  const checks: OutputCheck[] = [];
  const names = [...c.io.keys()].filter((n) => n.startsWith('out.') && select(n)).sort();
  for (const name of names) {
    const got = produced.get(name);
    if (got === undefined) {
      checks.push({ name, maxAbs: Number.POSITIVE_INFINITY, meanAbs: Number.POSITIVE_INFINITY, pass: false, detail: 'not produced' });
      continue;
    }
    checks.push(checkTensor(name, c.io.get(name)!, got, toleranceFor(c, name)));
  }
  for (const [name, got] of [...produced].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (name.startsWith('out.') && c.io.has(name)) continue;
    if (!select(name)) continue;
    const ref = c.io.get(name);
    if (!ref || name.startsWith('in.')) {
      checks.push({ name, maxAbs: Number.POSITIVE_INFINITY, meanAbs: Number.POSITIVE_INFINITY, pass: false, detail: 'produced but the case has no such reference tensor' });
      continue;
    }
    checks.push(checkTensor(name, ref, got, toleranceFor(c, name)));
  }
  return checks;
}

/** Short number format for PASS/FAIL lines: 3 significant digits, exponent when small or large. */
export function fmt(x: number): string {
  if (x === 0) return '0';
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  return a >= 1e-3 && a < 1e4 ? String(Number(x.toPrecision(3))) : x.toExponential(2).replace(/\.?0+e/, 'e');
}
