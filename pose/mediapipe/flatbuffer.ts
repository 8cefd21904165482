// Just enough FlatBuffers to read a .tflite and to add objects to it without schema codegen.
//
// Reading: a table starts with an int32 soffset to its vtable; the vtable is
// [u16 vtable bytes, u16 table bytes, u16 field offsets…]; references are forward uint32 offsets.
// Writing: `Prepender` lays new objects out in a region *in front of* the untouched original
// file. New objects may point at later new objects or into the original (every uoffset stays
// forward, which FlatBuffers requires); the original keeps its internal offsets because they are
// relative. The region length is a multiple of 16 so the original's data alignment is kept.

export class FlatReader {
  readonly d: Buffer;
  constructor(bytes: Uint8Array) {
    this.d = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  }
  u32(p: number): number { return this.d.readUInt32LE(p); }
  i32(p: number): number { return this.d.readInt32LE(p); }
  root(): number { return this.u32(0); }
  identifier(): string { return this.d.toString('latin1', 4, 8); }
  /** Absolute position of field `f` of the table at `t`, or 0 when the field is absent. */
  field(t: number, f: number): number {
    const vt = t - this.i32(t);
    const o = 4 + 2 * f;
    if (o >= this.d.readUInt16LE(vt)) return 0;
    const off = this.d.readUInt16LE(vt + o);
    return off ? t + off : 0;
  }
  deref(p: number): number { return p + this.u32(p); }
  /** Target of a reference field (table, vector or string), or 0. */
  ref(t: number, f: number): number { const p = this.field(t, f); return p ? this.deref(p) : 0; }
  tables(t: number, f: number): number[] {
    const v = this.ref(t, f);
    if (!v) return [];
    return Array.from({ length: this.u32(v) }, (_, i) => this.deref(v + 4 + 4 * i));
  }
  ints(t: number, f: number): number[] {
    const v = this.ref(t, f);
    if (!v) return [];
    return Array.from({ length: this.u32(v) }, (_, i) => this.i32(v + 4 + 4 * i));
  }
  string(t: number, f: number): string | null {
    const s = this.ref(t, f);
    return s ? this.d.toString('utf8', s + 4, s + 4 + this.u32(s)) : null;
  }
  int8(t: number, f: number, def = 0): number { const p = this.field(t, f); return p ? this.d.readInt8(p) : def; }
  int32(t: number, f: number, def = 0): number { const p = this.field(t, f); return p ? this.i32(p) : def; }
}

/** Where a reference points: an object of the new region (`at`, filled when allocated) or of the original. */
export type Target = { at: number } | { orig: number };
/** One table field, each stored in its own 4-byte slot (1-byte scalars use the first byte). */
export type Field = null | { u8: number } | { u32: number } | { i32: number } | { ref: Target };

export class Prepender {
  private pos = 8; // 0: root uoffset, 4: file identifier
  private readonly writes: Array<(o: Buffer, origin: number) => void> = [];

  /** A reference target to be allocated later (forward references are the only legal ones). */
  static later(): { at: number } { return { at: -1 }; }

  private alloc(len: number, align = 4): number {
    this.pos = Math.ceil(this.pos / align) * align;
    const p = this.pos;
    this.pos += len;
    return p;
  }

  private refAt(slot: number, target: Target): void {
    this.writes.push((o, origin) => {
      const to = 'orig' in target ? origin + target.orig : target.at;
      if (to <= slot) throw new Error(`flatbuffer: backward reference ${slot} -> ${to}`);
      o.writeUInt32LE(to - slot, slot);
    });
  }

  /** Places a table; `into` (from `later()`) receives its position. */
  table(fields: readonly Field[], into: { at: number } = Prepender.later()): { at: number } {
    const n = fields.length;
    const vt = this.alloc(4 + 2 * n);
    const t = this.alloc(4 + 4 * n);
    into.at = t;
    this.writes.push((o) => {
      o.writeUInt16LE(4 + 2 * n, vt);
      o.writeUInt16LE(4 + 4 * n, vt + 2);
      o.writeInt32LE(t - vt, t);
    });
    fields.forEach((f, i) => {
      const slot = t + 4 + 4 * i;
      this.writes.push((o) => o.writeUInt16LE(f === null ? 0 : 4 + 4 * i, vt + 4 + 2 * i));
      if (f === null) return;
      if ('ref' in f) this.refAt(slot, f.ref);
      else if ('u8' in f) this.writes.push((o) => o.writeUInt8(f.u8, slot));
      else if ('u32' in f) this.writes.push((o) => o.writeUInt32LE(f.u32 >>> 0, slot));
      else this.writes.push((o) => o.writeInt32LE(f.i32, slot));
    });
    return into;
  }

  refs(targets: readonly Target[], into: { at: number } = Prepender.later()): { at: number } {
    const v = this.alloc(4 + 4 * targets.length);
    into.at = v;
    this.writes.push((o) => o.writeUInt32LE(targets.length, v));
    targets.forEach((t, i) => this.refAt(v + 4 + 4 * i, t));
    return into;
  }

  ints(values: readonly number[], into: { at: number } = Prepender.later()): { at: number } {
    const v = this.alloc(4 + 4 * values.length);
    into.at = v;
    this.writes.push((o) => {
      o.writeUInt32LE(values.length, v);
      values.forEach((x, i) => o.writeInt32LE(x, v + 4 + 4 * i));
    });
    return into;
  }

  string(s: string, into: { at: number } = Prepender.later()): { at: number } {
    const b = Buffer.from(s, 'utf8');
    const v = this.alloc(4 + b.length + 1);
    into.at = v;
    this.writes.push((o) => { o.writeUInt32LE(b.length, v); b.copy(o, v + 4); });
    return into;
  }

  /** A ubyte vector whose data starts 16-aligned (TFLite buffers). */
  bytes(data: Uint8Array, into: { at: number } = Prepender.later()): { at: number } {
    this.pos = Math.ceil((this.pos + 4) / 16) * 16 - 4;
    const v = this.alloc(4 + data.length);
    into.at = v;
    this.writes.push((o) => { o.writeUInt32LE(data.length, v); o.set(data, v + 4); });
    return into;
  }

  /** New file = region (root table `root`, identifier copied from the original) + original bytes. */
  finish(original: Uint8Array, root: { at: number }): Buffer {
    const origin = Math.ceil(this.pos / 16) * 16;
    const o = Buffer.alloc(origin + original.length);
    o.set(original, origin);
    o.set(original.subarray(4, 8), 4);
    o.writeUInt32LE(root.at, 0);
    for (const w of this.writes) w(o, origin);
    return o;
  }
}
