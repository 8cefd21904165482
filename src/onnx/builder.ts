// A typed ONNX graph builder. Initializers are the user's weight files, referenced in place (external
// data at their byte offsets), named by their state-dict key; nodes are named `scope/Op_n`.
// Network code pushes scopes that are state-dict segments, so a parameter name leads to its code.
import fs from 'node:fs';
import path from 'node:path';
import { CnextError } from '../core/errors.ts';
import { floatToHalf } from '../core/tensor.ts';
import type { WeightEntry, WeightSource } from '../weights/weight-source.ts';
import {
  DataType, encodeModel,
  type AttributeValue, type Dim, type NodeProto, type TensorProto, type ValueInfoProto,
} from './proto.ts';

export { DataType, type Dim };

/** A value in the graph (a tensor produced by an input, an initializer or a node). */
export interface Value {
  readonly name: string;
}

export type AttrInput = number | readonly number[] | string | AttributeValue;
export type Attrs = Record<string, AttrInput | undefined>;

/** Attributes that are floats in the ONNX spec although a JS number may be integral (eps = 1, alpha = 1). */
const FLOAT_ATTRS = new Set(['epsilon', 'alpha', 'beta', 'scale', 'gamma', 'mask_filter_value', 'lambd', 'bias']);

export const OPSET = 21;
export const MS_DOMAIN = 'com.microsoft';

export interface BuiltModel {
  readonly bytes: Uint8Array;
  /** Folder the external-data locations are relative to (canonical; pass to the session). */
  readonly externalDir: string;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly nodeCount: number;
  /** The graph as built (nodes in creation order, which is topological), for structural checks (onnx/dtypes.ts). */
  readonly graph: BuiltGraph;
}

export interface BuiltGraph {
  readonly nodes: readonly NodeProto[];
  readonly initializers: readonly TensorProto[];
  readonly inputs: readonly ValueInfoProto[];
  readonly outputs: readonly ValueInfoProto[];
}

const DTYPE_OF: Record<string, DataType> = {
  F32: DataType.FLOAT, F16: DataType.FLOAT16, BF16: DataType.BFLOAT16, F64: DataType.DOUBLE,
  I64: DataType.INT64, I32: DataType.INT32, U8: DataType.UINT8, I8: DataType.INT8, I16: DataType.INT16, BOOL: DataType.BOOL,
};

export class GraphBuilder {
  private readonly nodes: NodeProto[] = [];
  private readonly initializers: TensorProto[] = [];
  private readonly externals: Array<{ tensor: TensorProto; file: string }> = [];
  private readonly inputs: ValueInfoProto[] = [];
  private readonly outputs: ValueInfoProto[] = [];
  private readonly scopeStack: string[] = [];
  private readonly params = new Map<string, Value>();
  private readonly stored = new Map<string, Value>();
  private readonly constants = new Map<string, Value>();
  private readonly names = new Set<string>();
  private counter = 0;

  constructor(
    readonly weights: WeightSource | undefined,
    readonly graphName = 'cnext',
    /** The activations' number format (FLOAT, or FLOAT16 for fp16 graphs): what param() and constAct() give. */
    readonly float: DataType.FLOAT | DataType.FLOAT16 = DataType.FLOAT,
  ) {}

  // ---- scopes -------------------------------------------------------------------------------------

  /** Run `body` inside scope segments (state-dict segments: `down_blocks`, `0`, `resnets`, `1`). */
  scope<T>(segments: string | number | ReadonlyArray<string | number>, body: () => T): T {
    const segs = (Array.isArray(segments) ? segments : [segments]).map(String);
    this.scopeStack.push(...segs);
    try {
      return body();
    } finally {
      this.scopeStack.length -= segs.length;
    }
  }

  /** Dotted state-dict prefix of the current scope. */
  get prefix(): string {
    return this.scopeStack.join('.');
  }

  private key(local: string): string {
    return this.prefix ? `${this.prefix}.${local}` : local;
  }

  private fresh(base: string): string {
    let name = base;
    while (this.names.has(name)) name = `${base}_${this.counter++}`;
    this.names.add(name);
    return name;
  }

  // ---- graph inputs/outputs -------------------------------------------------------------------------

  input(name: string, type: DataType, shape: readonly Dim[]): Value {
    if (this.names.has(name)) throw new Error(`duplicate graph input ${name}`);
    this.names.add(name);
    this.inputs.push({ name, elemType: type, shape });
    return { name };
  }

  output(value: Value, name: string, type: DataType, shape: readonly Dim[]): void {
    const v = this.op('Identity', [value], {}, { outputName: name });
    this.outputs.push({ name: v.name, elemType: type, shape });
  }

  // ---- weights ------------------------------------------------------------------------------------------

  /** Shape of a weight in the current scope, without using it (to infer widths from weights). */
  weightShape(local: string): readonly number[] | undefined {
    return this.weights?.peek(this.key(local))?.shape;
  }

  hasWeight(local: string): boolean {
    return this.weights?.peek(this.key(local)) !== undefined;
  }

  /**
   * The weight `<scope>.<local>` checked against `shape`, as a value of `type` (default: the activations' format).
   * A weight stored in that format is used as stored; others are cast on the initializer (folded at session
   * creation, or kept as stored in low-memory mode).
   */
  param(local: string, shape: readonly number[], type: DataType = this.float): Value {
    const key = this.key(local);
    const cached = this.params.get(`${key}|${type}`);
    if (cached) return cached;
    if (!this.weights) throw new Error(`graph has no weight source for ${key}`);
    const entry = this.weights.expect(key, shape);
    const v = this.weightValue(entry, type);
    this.params.set(`${key}|${type}`, v);
    return v;
  }

  private weightValue(entry: WeightEntry, type: DataType): Value {
    const dataType = DTYPE_OF[entry.dtype];
    if (dataType === undefined) {
      throw new CnextError('WEIGHTS_UNSUPPORTED', `Weight ${entry.name} in ${entry.file} has dtype ${entry.dtype}, which networks cannot use`);
    }
    let v = this.stored.get(entry.name);
    if (!v) {
      const dims = entry.layout ? entry.layout.storedShape : entry.shape;
      const tensor: TensorProto = { name: entry.name, dataType, dims, external: { location: '', offset: entry.offset, length: entry.length } };
      this.names.add(entry.name);
      this.initializers.push(tensor);
      this.externals.push({ tensor, file: entry.file });
      v = { name: entry.name };
      this.stored.set(entry.name, v);
    }
    if (dataType !== type) v = this.op('Cast', [v], { to: type }, { name: `${entry.name}/Cast` });
    if (entry.layout) v = this.op('Transpose', [v], { perm: entry.layout.perm }, { name: `${entry.name}/Transpose` });
    return v;
  }

  // ---- constants ----------------------------------------------------------------------------------------

  constFloat(values: ArrayLike<number>, dims: readonly number[] = [values.length], type: DataType.FLOAT | DataType.FLOAT16 = DataType.FLOAT): Value {
    if (type === DataType.FLOAT16) {
      const half = Uint16Array.from(values as ArrayLike<number>, (x) => floatToHalf(x));
      return this.constant(DataType.FLOAT16, dims, new Uint8Array(half.buffer));
    }
    const data = Float32Array.from(values as ArrayLike<number>);
    return this.constant(DataType.FLOAT, dims, new Uint8Array(data.buffer));
  }

  /** A constant in the activations' format (float32, or float16 in fp16 graphs). */
  constAct(values: ArrayLike<number>, dims: readonly number[] = [values.length]): Value {
    return this.constFloat(values, dims, this.float);
  }

  scalarAct(v: number): Value {
    return this.constAct([v], []);
  }

  constInt64(values: ArrayLike<number>, dims: readonly number[] = [values.length]): Value {
    const data = BigInt64Array.from(Array.from(values as ArrayLike<number>, (x) => BigInt(x)));
    return this.constant(DataType.INT64, dims, new Uint8Array(data.buffer));
  }

  scalarFloat(v: number): Value {
    return this.constFloat([v], []);
  }

  private constant(dataType: DataType, dims: readonly number[], raw: Uint8Array): Value {
    const key = `${dataType}|${dims.join(',')}|${Buffer.from(raw).toString('base64')}`;
    const hit = this.constants.get(key);
    if (hit) return hit;
    const name = this.fresh(`const_${this.constants.size}`);
    this.initializers.push({ name, dataType, dims, raw });
    const v = { name };
    this.constants.set(key, v);
    return v;
  }

  // ---- nodes --------------------------------------------------------------------------------------------

  /**
   * Add one node with one output. `null` inputs are ONNX's empty optional inputs; trailing ones are dropped
   * (see nodeInputs).
   */
  op(opType: string, inputs: ReadonlyArray<Value | null | undefined>, attrs: Attrs = {}, opts: OpOptions = {}): Value {
    return this.opMulti(opType, inputs, 1, attrs, opts)[0];
  }

  opMulti(
    opType: string,
    inputs: ReadonlyArray<Value | null | undefined>,
    outputs: number,
    attrs: Attrs = {},
    opts: OpOptions = {},
  ): Value[] {
    const scope = this.scopeStack.join('/');
    const nodeName = this.fresh(opts.name ?? (scope ? `${scope}/${opType}` : opType));
    const outNames: string[] = [];
    for (let i = 0; i < outputs; i++) {
      outNames.push(i === 0 && opts.outputName ? this.claim(opts.outputName) : this.fresh(`v_${this.prefix || 'g'}.${opType}`));
    }
    const attributes: Array<{ name: string; value: AttributeValue }> = [];
    for (const [name, a] of Object.entries(attrs)) if (a !== undefined) attributes.push({ name, value: toAttr(name, a) });
    this.nodes.push({
      opType,
      domain: opts.domain ?? '',
      name: nodeName,
      inputs: nodeInputs(inputs),
      outputs: outNames,
      attributes,
    });
    return outNames.map((name) => ({ name }));
  }

  private claim(name: string): string {
    if (this.names.has(name)) throw new Error(`duplicate value name ${name}`);
    this.names.add(name);
    return name;
  }

  // ---- output ---------------------------------------------------------------------------------------

  build(metadata: Record<string, string> = {}): BuiltModel {
    const externalDir = commonDir(this.externals.map((e) => path.dirname(e.file)));
    for (const { tensor, file } of this.externals) {
      const rel = path.relative(externalDir, file);
      if (rel.startsWith('..') || path.isAbsolute(rel)) throw new Error(`external file ${file} is outside ${externalDir}`);
      tensor.external = { ...tensor.external!, location: rel.split(path.sep).join('/') };
    }
    const bytes = encodeModel({
      irVersion: 10,
      producerName: 'controlnext-motion',
      opsets: [{ domain: '', version: OPSET }, { domain: MS_DOMAIN, version: 1 }],
      graph: { name: this.graphName, nodes: this.nodes, initializers: this.initializers, inputs: this.inputs, outputs: this.outputs },
      metadata,
    });
    return {
      bytes,
      externalDir,
      inputNames: this.inputs.map((i) => i.name),
      outputNames: this.outputs.map((o) => o.name),
      nodeCount: this.nodes.length,
      graph: { nodes: this.nodes, initializers: this.initializers, inputs: this.inputs, outputs: this.outputs },
    };
  }
}

export interface OpOptions {
  domain?: string;
  /** Node name override (defaults to `scope/OpType`). */
  name?: string;
  /** Exact name of the first output (graph outputs). */
  outputName?: string;
}

/**
 * A node's input names: `null`/`undefined` become ONNX's empty name `""` (an absent optional input), and
 * trailing empty ones are left out. ONNX means the same by both, but kernels do not all treat them alike: ORT's
 * CUDA `Conv` decides "has bias" from the input count (`context->InputCount() >= 3`) and then dereferences
 * `Input<Tensor>(2)`, which is null for `""` — a SIGSEGV (the CLIP patch embedding, our only bias-free Conv;
 * onnxruntime/core/providers/cuda/nn/conv.cc, UpdateConvState). An empty input in the middle must stay: inputs
 * are positional.
 */
export function nodeInputs(inputs: ReadonlyArray<Value | null | undefined>): string[] {
  const names = inputs.map((v) => (v ? v.name : ''));
  while (names.length && names[names.length - 1] === '') names.pop();
  return names;
}

function toAttr(name: string, a: AttrInput): AttributeValue {
  if (typeof a === 'string') return { kind: 'string', value: a };
  if (typeof a === 'number') return FLOAT_ATTRS.has(name) || !Number.isInteger(a) ? { kind: 'float', value: a } : { kind: 'int', value: a };
  if (Array.isArray(a)) {
    const arr = a as readonly number[];
    return arr.every(Number.isInteger) && !FLOAT_ATTRS.has(name) ? { kind: 'ints', value: arr } : { kind: 'floats', value: arr };
  }
  return a as AttributeValue;
}

/** Deepest common canonical directory of the weight files (ORT rejects `..` and absolute locations). */
function commonDir(dirs: readonly string[]): string {
  if (!dirs.length) return process.cwd();
  const split = [...new Set(dirs)].map((d) => fs.realpathSync(d).split(path.sep));
  const first = split[0];
  let n = first.length;
  for (const s of split) {
    let i = 0;
    while (i < n && i < s.length && s[i] === first[i]) i++;
    n = i;
  }
  return first.slice(0, n).join(path.sep) || path.sep;
}
