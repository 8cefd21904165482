// A fixture case folder (format: ../shared/fixtures/README.md §1) and what a kind runner returns.
import type { Tensor } from '../core/tensor.ts';
import type { SessionOptions } from '../onnx/session.ts';

export interface Tolerance {
  readonly max_abs: number;
  readonly mean_abs: number;
  readonly per_output?: Record<string, { max_abs: number; mean_abs: number }>;
  readonly [extra: string]: unknown;
}

export interface CaseJson {
  readonly kind: string;
  readonly config: Record<string, unknown>;
  readonly inputs: Record<string, unknown>;
  readonly tolerance: Tolerance;
  readonly weights?: string | Record<string, string>;
  readonly [extra: string]: unknown;
}

export interface ParityCase {
  /** Absolute path of the case folder. */
  readonly dir: string;
  /** Folder name, as printed in PASS/FAIL lines. */
  readonly name: string;
  readonly json: CaseJson;
  /** Every tensor of io.safetensors (in.*, out.*, dbg.*), floats as float32. */
  readonly io: ReadonlyMap<string, Tensor>;
  /** Absolute path of the weights file (for a component, when `weights` is a map), resolved from case.json. */
  weightsPath(component?: string): string;
  /** Where and in which precision the case's networks run (`cnext parity --device/--precision`); {} = CPU fp32. */
  readonly session?: SessionOptions;
}

/** One compared output. `pass` is decided by the runner with the fixture's own tolerance semantics. */
export interface OutputCheck {
  readonly name: string;
  readonly maxAbs: number;
  readonly meanAbs: number;
  readonly pass: boolean;
  /** Extra facts for the report (e.g. mismatch fraction for images). */
  readonly detail?: string;
  /** max|ref| and mean|ref| of the reference tensor (for the reduced-precision bound; absent for non-tensor checks). */
  readonly refMaxAbs?: number;
  readonly refMeanAbs?: number;
}

export type KindRunner = (c: ParityCase) => Promise<OutputCheck[]>;
