// Two edits to legacy MediaPipe .tflite files so that MediaPipe Tasks accepts them:
// - `injectMetadata`: add a TFLITE_METADATA buffer (a ModelMetadata flatbuffer, identifier "M001")
//   whose only content is the input NormalizationOptions. Without it Tasks refuses float inputs:
//   "Input tensor has type float32: it requires specifying NormalizationOptions metadata".
// - `appendGather`: append one GATHER op to a graph output (the face mesh 468 → 478 layout).
// Both prepend new root objects that reference the untouched original (see flatbuffer.ts).
// Schema: tensorflow/lite/schema/schema.fbs and tensorflow/lite/schema/metadata_schema.fbs.
import * as fb from 'flatbuffers';
import { FlatReader, Prepender, type Field, type Target } from './flatbuffer.ts';

// Model: version, operator_codes, subgraphs, description, buffers, metadata_buffer, metadata, signature_defs
const MODEL_FIELDS = 8;
const MODEL = { version: 0, operatorCodes: 1, subgraphs: 2, buffers: 4, metadata: 6 } as const;
// SubGraph: tensors, inputs, outputs, operators, name, debug_metadata_index (int)
const SUBGRAPH_FIELDS = 6;
const SUBGRAPH = { tensors: 0, outputs: 2, operators: 3, debugMetadataIndex: 5 } as const;
const BUILTIN_GATHER = 36;
const BUILTIN_OPTIONS_GATHER = 23;
const TENSOR_FLOAT32 = 0;
const TENSOR_INT32 = 2;

export interface Normalization {
  /** Per-channel or single values; the model input is (pixel − mean) / std. */
  mean: readonly number[];
  std: readonly number[];
}

/** ModelMetadata { name, subgraph_metadata: [{ input_tensor_metadata: [{ name, process_units: [Normalization] }] }], min_parser_version } */
export function buildModelMetadata(name: string, norm: Normalization, inputName = 'image'): Uint8Array {
  const b = new fb.Builder(256);
  const floats = (xs: readonly number[]): number => {
    b.startVector(4, xs.length, 4);
    for (let i = xs.length - 1; i >= 0; i--) b.addFloat32(xs[i]!);
    return b.endVector();
  };
  const offsets = (xs: readonly number[]): number => {
    b.startVector(4, xs.length, 4);
    for (let i = xs.length - 1; i >= 0; i--) b.addOffset(xs[i]!);
    return b.endVector();
  };
  const mean = floats(norm.mean);
  const std = floats(norm.std);
  b.startObject(2); // NormalizationOptions { mean, std }
  b.addFieldOffset(0, mean, 0);
  b.addFieldOffset(1, std, 0);
  const normalization = b.endObject();
  b.startObject(2); // ProcessUnit { options_type: NormalizationOptions (1), options }
  b.addFieldInt8(0, 1, 0);
  b.addFieldOffset(1, normalization, 0);
  const processUnit = b.endObject();
  const processUnits = offsets([processUnit]);
  const tensorName = b.createString(inputName);
  b.startObject(7); // TensorMetadata { name, …, process_units (4) }
  b.addFieldOffset(0, tensorName, 0);
  b.addFieldOffset(4, processUnits, 0);
  const tensor = b.endObject();
  const inputs = offsets([tensor]);
  b.startObject(10); // SubGraphMetadata { …, input_tensor_metadata (2) }
  b.addFieldOffset(2, inputs, 0);
  const subgraph = b.endObject();
  const subgraphs = offsets([subgraph]);
  const modelName = b.createString(name);
  const minParser = b.createString('1.0.0');
  b.startObject(8); // ModelMetadata { name (0), …, subgraph_metadata (3), …, min_parser_version (7) }
  b.addFieldOffset(0, modelName, 0);
  b.addFieldOffset(3, subgraphs, 0);
  b.addFieldOffset(7, minParser, 0);
  const root = b.endObject();
  b.finish(root, 'M001');
  return b.asUint8Array().slice();
}

function openModel(tflite: Uint8Array): { r: FlatReader; model: number } {
  const r = new FlatReader(tflite);
  if (tflite.length < 8 || r.identifier() !== 'TFL3') throw new Error('not a TFLite model (no TFL3 identifier)');
  const model = r.root();
  // Buffers may locate their data by absolute file offset (field 1, for >2 GB models); prepending would break those.
  for (const buf of r.tables(model, MODEL.buffers)) {
    if (r.field(buf, 1)) throw new Error('TFLite buffers with absolute offsets are not supported');
  }
  return { r, model };
}

/** Names of the model's metadata entries (e.g. TFLITE_METADATA). */
export function listMetadata(tflite: Uint8Array): string[] {
  const { r, model } = openModel(tflite);
  return r.tables(model, MODEL.metadata).map((m) => r.string(m, 0) ?? '');
}

/** Model table fields copied from the original: `version` by value, the rest by reference. */
function copyModelFields(r: FlatReader, model: number): Field[] {
  return Array.from({ length: MODEL_FIELDS }, (_, f): Field => {
    const p = r.field(model, f);
    if (!p) return null;
    return f === MODEL.version ? { u32: r.u32(p) } : { ref: { orig: r.deref(p) } };
  });
}

export function injectMetadata(tflite: Uint8Array, metadata: Uint8Array, name = 'TFLITE_METADATA'): Uint8Array {
  const { r, model } = openModel(tflite);
  const metas = r.tables(model, MODEL.metadata);
  if (metas.some((m) => r.string(m, 0) === name)) return tflite;
  const bufs = r.tables(model, MODEL.buffers);
  const w = new Prepender();
  const fields = copyModelFields(r, model);
  const bufVec = Prepender.later();
  const metaVec = Prepender.later();
  fields[MODEL.buffers] = { ref: bufVec };
  fields[MODEL.metadata] = { ref: metaVec };
  const root = w.table(fields);
  const newBuf = Prepender.later();
  const newMeta = Prepender.later();
  w.refs([...bufs.map((b): Target => ({ orig: b })), newBuf], bufVec);
  w.refs([...metas.map((m): Target => ({ orig: m })), newMeta], metaVec);
  const metaName = Prepender.later();
  w.table([{ ref: metaName }, { u32: bufs.length }], newMeta); // Metadata { name, buffer }
  w.string(name, metaName);
  const data = Prepender.later();
  w.table([{ ref: data }], newBuf); // Buffer { data }
  w.bytes(metadata, data);
  return w.finish(tflite, root);
}

/**
 * Replaces graph output `outputSlot` (a float32 tensor, shape [..., N]) by GATHER(output, indices, axis = last),
 * shape [..., indices.length]. Subgraph 0 only.
 */
export function appendGather(tflite: Uint8Array, outputSlot: number, indices: readonly number[]): Uint8Array {
  const { r, model } = openModel(tflite);
  const codes = r.tables(model, MODEL.operatorCodes);
  const bufs = r.tables(model, MODEL.buffers);
  const subgraphs = r.tables(model, MODEL.subgraphs);
  const sg = subgraphs[0];
  if (sg === undefined) throw new Error('TFLite model has no subgraph');
  const tensors = r.tables(sg, SUBGRAPH.tensors);
  const ops = r.tables(sg, SUBGRAPH.operators);
  const outputs = r.ints(sg, SUBGRAPH.outputs);
  const srcIndex = outputs[outputSlot];
  if (srcIndex === undefined) throw new Error(`TFLite subgraph has no output ${outputSlot}`);
  const src = tensors[srcIndex]!;
  if (r.int8(src, 1) !== TENSOR_FLOAT32) throw new Error('appendGather: only float32 outputs');
  const shape = r.ints(src, 0);
  const n = shape[shape.length - 1]!;
  const bad = indices.find((i) => !(Number.isInteger(i) && i >= 0 && i < n));
  if (bad !== undefined) throw new Error(`appendGather: index ${bad} outside [0, ${n})`);
  // OperatorCode: deprecated_builtin_code (int8), custom_code, version, builtin_code (int32)
  const codeOf = (c: number) => Math.max(r.int8(c, 0), r.int32(c, 3));
  let gatherCode = codes.findIndex((c) => codeOf(c) === BUILTIN_GATHER);

  const w = new Prepender();
  const fields = copyModelFields(r, model);
  const codeVec = Prepender.later();
  const sgVec = Prepender.later();
  const bufVec = Prepender.later();
  fields[MODEL.operatorCodes] = { ref: codeVec };
  fields[MODEL.subgraphs] = { ref: sgVec };
  fields[MODEL.buffers] = { ref: bufVec };
  const root = w.table(fields);

  const newCode = Prepender.later();
  const codeTargets: Target[] = codes.map((c) => ({ orig: c }));
  if (gatherCode < 0) { gatherCode = codes.length; codeTargets.push(newCode); }
  w.refs(codeTargets, codeVec);
  const newBuf = Prepender.later();
  w.refs([...bufs.map((b): Target => ({ orig: b })), newBuf], bufVec);
  const newSg = Prepender.later();
  w.refs([newSg, ...subgraphs.slice(1).map((s): Target => ({ orig: s }))], sgVec);
  if (codeTargets.includes(newCode)) {
    w.table([{ u8: BUILTIN_GATHER }, null, { i32: 1 }, { i32: BUILTIN_GATHER }], newCode);
  }
  const indexData = Prepender.later();
  w.table([{ ref: indexData }], newBuf);

  const sgFields = Array.from({ length: SUBGRAPH_FIELDS }, (_, f): Field => {
    const p = r.field(sg, f);
    if (!p) return null;
    return f === SUBGRAPH.debugMetadataIndex ? { i32: r.i32(p) } : { ref: { orig: r.deref(p) } };
  });
  const tensorVec = Prepender.later();
  const outVec = Prepender.later();
  const opVec = Prepender.later();
  sgFields[SUBGRAPH.tensors] = { ref: tensorVec };
  sgFields[SUBGRAPH.outputs] = { ref: outVec };
  sgFields[SUBGRAPH.operators] = { ref: opVec };
  w.table(sgFields, newSg);

  const indexTensor = Prepender.later();
  const outTensor = Prepender.later();
  w.refs([...tensors.map((t): Target => ({ orig: t })), indexTensor, outTensor], tensorVec);
  const indexTensorId = tensors.length;
  const outTensorId = tensors.length + 1;
  w.ints(outputs.map((x, i) => (i === outputSlot ? outTensorId : x)), outVec);
  const gatherOp = Prepender.later();
  w.refs([...ops.map((o): Target => ({ orig: o })), gatherOp], opVec);

  // Tensor: shape, type, buffer, name
  const indexShape = Prepender.later();
  const indexName = Prepender.later();
  w.table([{ ref: indexShape }, { u8: TENSOR_INT32 }, { u32: bufs.length }, { ref: indexName }], indexTensor);
  const outShape = Prepender.later();
  const outName = Prepender.later();
  w.table([{ ref: outShape }, { u8: TENSOR_FLOAT32 }, { u32: 0 }, { ref: outName }], outTensor);
  // Operator: opcode_index, inputs, outputs, builtin_options_type, builtin_options
  const opIn = Prepender.later();
  const opOut = Prepender.later();
  const opOptions = Prepender.later();
  w.table([{ u32: gatherCode }, { ref: opIn }, { ref: opOut }, { u8: BUILTIN_OPTIONS_GATHER }, { ref: opOptions }], gatherOp);
  w.table([{ i32: shape.length - 1 }], opOptions); // GatherOptions { axis }
  w.ints([indices.length], indexShape);
  w.string('gather_indices', indexName);
  w.ints([...shape.slice(0, -1), indices.length], outShape);
  w.string(`${r.string(src, 3) ?? 'output'}_gathered`, outName);
  w.ints([srcIndex, indexTensorId], opIn);
  w.ints([outTensorId], opOut);
  const bytes = Buffer.alloc(4 * indices.length);
  indices.forEach((x, i) => bytes.writeInt32LE(x, 4 * i));
  w.bytes(bytes, indexData);
  return w.finish(tflite, root);
}

/** Shape of graph output `slot` of subgraph 0 (for checks and tests). */
export function outputShape(tflite: Uint8Array, slot: number): number[] {
  const { r, model } = openModel(tflite);
  const sg = r.tables(model, MODEL.subgraphs)[0]!;
  const t = r.tables(sg, SUBGRAPH.tensors)[r.ints(sg, SUBGRAPH.outputs)[slot]!]!;
  return r.ints(t, 0);
}
