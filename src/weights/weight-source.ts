// A WeightSource is the view every network builder reads: state-dict name → where the bytes are.
// Nothing here reads tensor data; the ONNX graph points at the bytes in place (external data).
import { CnextError } from '../core/errors.ts';
import { shapeString } from '../core/tensor.ts';

/** On-disk element types we understand (safetensors spelling). */
export type WeightDType = 'F32' | 'F16' | 'BF16' | 'F64' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

export const DTYPE_BYTES: Record<WeightDType, number> = {
  F32: 4, F16: 2, BF16: 2, F64: 8, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
};

export interface WeightEntry {
  readonly name: string;
  readonly dtype: WeightDType;
  /** Logical shape (what the state dict reports). */
  readonly shape: readonly number[];
  /** Canonical path (realpath) of the file holding the bytes. */
  readonly file: string;
  /** Absolute byte offset of the first stored element in `file`. */
  readonly offset: number;
  /** Number of bytes stored (= product(storedShape) × element size). */
  readonly length: number;
  /**
   * Set when the bytes are not the logical tensor in C order (a non-contiguous torch tensor): the bytes are a
   * C-contiguous tensor of `storedShape`, and the logical tensor is `transpose(stored, perm)`.
   */
  readonly layout?: { readonly storedShape: readonly number[]; readonly perm: readonly number[] };
}

export class WeightSource {
  private readonly entries: ReadonlyMap<string, WeightEntry>;
  private readonly used = new Set<string>();
  /** Human-readable origin for messages ("unet/diffusion_pytorch_model.fp16.safetensors + unet.bin"). */
  readonly origin: string;

  constructor(entries: Iterable<WeightEntry>, origin: string) {
    const map = new Map<string, WeightEntry>();
    for (const e of entries) map.set(e.name, e);
    this.entries = map;
    this.origin = origin;
  }

  /**
   * Later sources override earlier ones name by name — how ControlNeXt's fine-tuned `unet.bin` replaces
   * tensors of the base SVD UNet. Names only in an override are added.
   */
  static merge(sources: readonly WeightSource[]): WeightSource {
    const map = new Map<string, WeightEntry>();
    for (const s of sources) for (const e of s.entries.values()) map.set(e.name, e);
    return new WeightSource(map.values(), sources.map((s) => s.origin).join(' + '));
  }

  /** Entries whose names start with `prefix.`, renamed without it (e.g. a sub-module of a bigger file). */
  scoped(prefix: string): WeightSource {
    const p = prefix.endsWith('.') ? prefix : `${prefix}.`;
    const out: WeightEntry[] = [];
    for (const e of this.entries.values()) if (e.name.startsWith(p)) out.push({ ...e, name: e.name.slice(p.length) });
    return new WeightSource(out, `${this.origin} (${prefix})`);
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  /** Look up without marking the weight used (probing for optional parts of a model). */
  peek(name: string): WeightEntry | undefined {
    return this.entries.get(name);
  }

  /** Look up without checking a shape (e.g. to infer a width from a weight). Marks the name used. */
  get(name: string): WeightEntry {
    const e = this.entries.get(name);
    if (!e) {
      throw new CnextError('WEIGHT_MISSING', `Weight ${name} is missing from ${this.origin}`, {
        solutions: ['Check that the weights belong to this model (config.json and weight file from the same folder).'],
      });
    }
    this.used.add(name);
    return e;
  }

  /** Look up and insist on a shape: the error names the tensor, the file and both shapes. */
  expect(name: string, shape: readonly number[]): WeightEntry {
    const e = this.get(name);
    if (e.shape.length !== shape.length || e.shape.some((d, i) => d !== shape[i])) {
      throw new CnextError(
        'WEIGHT_SHAPE_MISMATCH',
        `Shape mismatch for weight ${name} in ${e.file}: the config expects ${shapeString(shape)}, the file has ${shapeString(e.shape)}`,
        { solutions: ['Check that config.json and the weight file come from the same model.'] },
      );
    }
    return e;
  }

  /** Names never looked up: a builder calls this at the end, since unused weights mean a wrong model. */
  unused(): string[] {
    return this.names().filter((n) => !this.used.has(n));
  }

  /** Throw if any weight was not consumed (exact key set, like a strict load_state_dict). */
  assertAllUsed(ignore: (name: string) => boolean = () => false): void {
    const extra = this.unused().filter((n) => !ignore(n));
    if (extra.length) {
      const shown = extra.slice(0, 8).join(', ') + (extra.length > 8 ? `, … (${extra.length} in all)` : '');
      throw new CnextError('WEIGHT_UNEXPECTED', `Unexpected weights in ${this.origin} not used by the model: ${shown}`, {
        solutions: ['Check that config.json matches the weights (block counts, layers per block).'],
      });
    }
  }
}
