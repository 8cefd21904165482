// Record the state-dict spec (names, shapes) a network builder asks for, without any weight file.
// Running the real builder against this source is how synthetic weights get the exact real layout: there
// is no second, hand-written list of parameter names that could drift from the network code.
import { WeightSource, type WeightEntry } from './weight-source.ts';

export interface SpecEntry {
  readonly name: string;
  readonly shape: readonly number[];
}

export class SpecRecorder extends WeightSource {
  private readonly recorded = new Map<string, SpecEntry>();

  /**
   * `hints`: shapes of weights a builder reads without stating a shape (widths inferred from weights, e.g.
   * ControlNeXt's stem and output convs); they are recorded as soon as a builder looks them up.
   */
  constructor(
    private readonly hints: ReadonlyMap<string, readonly number[]> = new Map(),
    origin = 'synthetic spec',
  ) {
    super([], origin);
  }

  private fake(name: string, shape: readonly number[]): WeightEntry {
    return { name, dtype: 'F32', shape, file: '/dev/null', offset: 0, length: 0 };
  }

  override has(name: string): boolean {
    return this.recorded.has(name) || this.hints.has(name);
  }

  override peek(name: string): WeightEntry | undefined {
    const shape = this.recorded.get(name)?.shape ?? this.hints.get(name);
    return shape ? this.fake(name, shape) : undefined;
  }

  override get(name: string): WeightEntry {
    const e = this.peek(name);
    if (!e) throw new Error(`spec recorder: ${name} was read without a shape and has no hint`);
    this.recorded.set(name, { name, shape: e.shape });
    return e;
  }

  override expect(name: string, shape: readonly number[]): WeightEntry {
    const prior = this.recorded.get(name);
    if (prior && prior.shape.join() !== shape.join()) {
      throw new Error(`spec recorder: ${name} asked as [${shape}] after [${prior.shape}]`);
    }
    this.recorded.set(name, { name, shape: [...shape] });
    return this.fake(name, shape);
  }

  override names(): string[] {
    return [...this.recorded.keys()];
  }

  override assertAllUsed(): void {}

  /** The recorded spec, in the order the builder asked (which is module order, like a state dict). */
  spec(): SpecEntry[] {
    return [...this.recorded.values()];
  }
}
