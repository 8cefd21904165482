// Reads the nodes back out of a serialised ONNX ModelProto (only what tests look at: op type, name, inputs),
// independently of the writer in src/onnx/proto.ts, so a test checks the bytes ORT will see.
// Field numbers from onnx/onnx.proto: ModelProto.graph = 7, GraphProto.node = 1, NodeProto.input = 1,
// .name = 3, .op_type = 4.

export interface NodeSummary {
  readonly opType: string;
  readonly name: string;
  readonly inputs: readonly string[];
}

type Field = { field: number; wire: number; bytes?: Uint8Array };

function* fields(buf: Uint8Array): Generator<Field> {
  let p = 0;
  const varint = (): bigint => {
    let v = 0n;
    let shift = 0n;
    for (;;) {
      const b = buf[p++];
      v |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
      shift += 7n;
    }
  };
  while (p < buf.length) {
    const key = Number(varint());
    const field = key >>> 3;
    const wire = key & 7;
    if (wire === 0) varint();
    else if (wire === 1) p += 8;
    else if (wire === 5) p += 4;
    else if (wire === 2) {
      const n = Number(varint());
      yield { field, wire, bytes: buf.subarray(p, p + n) };
      p += n;
      continue;
    } else throw new Error(`protobuf wire type ${wire} at byte ${p}`);
    yield { field, wire };
  }
}

const text = (b: Uint8Array): string => new TextDecoder().decode(b);

export function readNodes(model: Uint8Array): NodeSummary[] {
  const out: NodeSummary[] = [];
  for (const m of fields(model)) {
    if (m.field !== 7 || !m.bytes) continue;
    for (const g of fields(m.bytes)) {
      if (g.field !== 1 || !g.bytes) continue;
      let opType = '';
      let name = '';
      const inputs: string[] = [];
      for (const n of fields(g.bytes)) {
        if (!n.bytes) continue;
        if (n.field === 1) inputs.push(text(n.bytes));
        else if (n.field === 3) name = text(n.bytes);
        else if (n.field === 4) opType = text(n.bytes);
      }
      out.push({ opType, name, inputs });
    }
  }
  return out;
}
