// FLOPs of a network run, counted from an ORT profile (per-node input/output shapes) of a session built at
// optimisation level `basic` (no NCHWc layout rewrites, so Conv weights keep their [O, I/g, k…] shape).
// Counted: Conv, MatMul, FusedMatMul, Gemm, MultiHeadAttention — the ops that carry >99 % of the work.
import fs from 'node:fs';

interface ProfileEvent {
  cat?: string;
  name?: string;
  args?: { op_name?: string; input_type_shape?: Array<Record<string, number[]>>; output_type_shape?: Array<Record<string, number[]>> };
}

const numel = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);
const shapeAt = (list: Array<Record<string, number[]>> | undefined, i: number): number[] | undefined =>
  list?.[i] ? Object.values(list[i])[0] : undefined;

export interface FlopCount {
  total: number;
  byOp: Record<string, number>;
}

/** FLOPs (multiply-add = 2) of one node execution, or 0 for ops we don't count. */
export function nodeFlops(ev: ProfileEvent): number {
  const op = ev.args?.op_name;
  const ins = ev.args?.input_type_shape;
  const outs = ev.args?.output_type_shape;
  const out = shapeAt(outs, 0);
  switch (op) {
    case 'Conv': {
      const w = shapeAt(ins, 1);
      if (!w || !out) return 0;
      // each output element: Cin/g · k… multiply-adds
      return 2 * numel(out) * numel(w.slice(1));
    }
    case 'MatMul':
    case 'FusedMatMul':
    case 'Gemm': {
      const a = shapeAt(ins, 0);
      if (!a || !out) return 0;
      // K = the contracted axis of A (transA is never used by our graphs)
      return 2 * numel(out) * a[a.length - 1];
    }
    case 'MultiHeadAttention': {
      const q = shapeAt(ins, 0);
      const k = shapeAt(ins, 1);
      if (!q || !k) return 0;
      // Q·Kᵀ and P·V: 2 · (2 · B · S · L · D)
      return 4 * q[0] * q[1] * k[1] * q[2];
    }
    default:
      return 0;
  }
}

export function countFlops(profileFile: string): FlopCount {
  const events = JSON.parse(fs.readFileSync(profileFile, 'utf8')) as ProfileEvent[];
  const byOp: Record<string, number> = {};
  let total = 0;
  for (const ev of events) {
    if (ev.cat !== 'Node' || !ev.name?.endsWith('_kernel_time')) continue;
    const f = nodeFlops(ev);
    if (!f) continue;
    const op = ev.args!.op_name!;
    byOp[op] = (byOp[op] ?? 0) + f;
    total += f;
  }
  return { total, byOp };
}
