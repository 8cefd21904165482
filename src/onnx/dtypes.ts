// Element-type propagation over a graph we built: every value's dtype from the graph inputs, the initializers and
// per-op rules, so an fp16 graph can be checked without a runtime — no float16/float32 mix on a node, the fp32
// islands where the network code claims them, no Cast on a weight already stored in the compute format.
// Only the ops our networks emit are known; any other op is reported (the checker never guesses).
import type { BuiltGraph } from './builder.ts';
import { DataType, type NodeProto } from './proto.ts';

/** Inputs that are shapes, axes, indices or sizes (int64), by op; every other input binds the op's type T. */
const INDEX_INPUTS: Record<string, readonly number[]> = {
  Reshape: [1], Expand: [1], Unsqueeze: [1], Squeeze: [1], Slice: [1, 2, 3, 4], ReduceMean: [1],
  ReduceSumSquare: [1], ReduceProd: [1], Split: [1], Pad: [1, 3], Gather: [1],
};

/** Ops whose inputs (but those above) and outputs all have one float type T. */
const SAME_TYPE = new Set([
  'Add', 'Sub', 'Mul', 'Div', 'Sqrt', 'Sigmoid', 'Relu', 'Gelu', 'Cos', 'Sin', 'Identity', 'Transpose', 'Concat',
  'Reshape', 'Expand', 'Unsqueeze', 'Squeeze', 'Slice', 'Split', 'Pad', 'Gather', 'ReduceMean', 'ReduceSumSquare',
  'ReduceProd', 'Range', 'Conv', 'MatMul', 'FusedMatMul', 'MultiHeadAttention', 'InstanceNormalization',
  'LayerNormalization', 'Resize',
]);

export interface DtypeReport {
  /** Each inconsistency, one line naming the node. */
  readonly errors: string[];
  /** value name → element type. */
  readonly types: ReadonlyMap<string, DataType>;
  /** op type → element type of its first input → node count. */
  readonly ops: ReadonlyMap<string, ReadonlyMap<DataType, number>>;
  /** Cast nodes reading a weight stored in float16 (an fp16 graph must use those as stored). */
  readonly castsOfFp16Weights: readonly string[];
  /** Cast nodes reading a (non-constant) weight, whatever its type. */
  readonly castsOfWeights: readonly string[];
}

const NAMES: Partial<Record<DataType, string>> = {
  [DataType.FLOAT]: 'FLOAT', [DataType.FLOAT16]: 'FLOAT16', [DataType.BFLOAT16]: 'BFLOAT16', [DataType.DOUBLE]: 'DOUBLE',
  [DataType.INT64]: 'INT64', [DataType.INT32]: 'INT32', [DataType.UINT8]: 'UINT8', [DataType.BOOL]: 'BOOL',
};

export function dtypeName(t: DataType): string {
  return NAMES[t] ?? `type ${t}`;
}

export function checkDtypes(graph: BuiltGraph): DtypeReport {
  const types = new Map<string, DataType>();
  const errors: string[] = [];
  const ops = new Map<string, Map<DataType, number>>();
  const weights = new Map<string, DataType>();
  const castsOfFp16Weights: string[] = [];
  const castsOfWeights: string[] = [];
  for (const i of graph.inputs) types.set(i.name, i.elemType);
  for (const t of graph.initializers) {
    types.set(t.name, t.dataType);
    if (t.external) weights.set(t.name, t.dataType);
  }
  for (const n of graph.nodes) {
    const ins = n.inputs.map((name) => (name ? types.get(name) : undefined));
    n.inputs.forEach((name, i) => {
      if (name && ins[i] === undefined) errors.push(`${n.name} (${n.opType}): input ${name} has no known type (not produced before use)`);
    });
    const first = ins.find((t) => t !== undefined);
    if (first !== undefined) {
      const byType = ops.get(n.opType) ?? new Map<DataType, number>();
      byType.set(first, (byType.get(first) ?? 0) + 1);
      ops.set(n.opType, byType);
    }
    const outs = outputTypes(n, ins, errors);
    n.outputs.forEach((o, i) => types.set(o, outs[i] ?? outs[0]));
    if (n.opType === 'Cast' && weights.has(n.inputs[0])) {
      castsOfWeights.push(n.name);
      if (weights.get(n.inputs[0]) === DataType.FLOAT16) castsOfFp16Weights.push(n.name);
    }
  }
  for (const o of graph.outputs) {
    const t = types.get(o.name);
    if (t !== o.elemType) errors.push(`graph output ${o.name} is declared ${dtypeName(o.elemType)} but computed as ${t === undefined ? 'unknown' : dtypeName(t)}`);
  }
  return { errors, types, ops, castsOfFp16Weights, castsOfWeights };
}

function attr(n: NodeProto, name: string): number | undefined {
  const a = n.attributes.find((x) => x.name === name)?.value;
  return a && (a.kind === 'int' || a.kind === 'float') ? a.value : undefined;
}

function outputTypes(n: NodeProto, ins: ReadonlyArray<DataType | undefined>, errors: string[]): DataType[] {
  const where = `${n.name} (${n.opType})`;
  if (n.opType === 'Cast') {
    const to = attr(n, 'to');
    if (to === undefined) errors.push(`${where}: no 'to'`);
    if (to !== undefined && to === ins[0] && ins[0] !== undefined && n.inputs[0]) errors.push(`${where}: casts ${dtypeName(to)} to itself`);
    return [to as DataType];
  }
  if (n.opType === 'Shape') return [DataType.INT64];
  if (!SAME_TYPE.has(n.opType)) {
    errors.push(`${where}: op not known to the dtype checker`);
    return [ins[0] as DataType];
  }
  const index = new Set(INDEX_INPUTS[n.opType] ?? []);
  let t: DataType | undefined;
  ins.forEach((it, i) => {
    if (it === undefined || !n.inputs[i]) return;
    if (n.opType === 'Resize') {
      // X binds T; roi and scales are float32 whatever T is
      if (i === 2 && it !== DataType.FLOAT) errors.push(`${where}: scales are ${dtypeName(it)}, must be FLOAT`);
      if (i !== 0) return;
    }
    if (index.has(i)) {
      if (it !== DataType.INT64) errors.push(`${where}: input ${i} (${n.inputs[i]}) is ${dtypeName(it)}, expected INT64`);
      return;
    }
    if (t === undefined) t = it;
    else if (it !== t) errors.push(`${where}: input ${i} (${n.inputs[i]}) is ${dtypeName(it)} but input 0 binds ${dtypeName(t)}`);
  });
  return [t as DataType];
}
