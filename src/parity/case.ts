// Loading fixture case folders (format: ../shared/fixtures/README.md §1): case.json + io.safetensors, and
// finding the cases under the folders given on the command line.
import fs from 'node:fs';
import path from 'node:path';
import { CnextError } from '../core/errors.ts';
import type { Tensor } from '../core/tensor.ts';
import type { SessionOptions } from '../onnx/session.ts';
import { readSafetensorsHeader, readTensor } from '../weights/safetensors.ts';
import type { CaseJson, ParityCase, Tolerance } from './types.ts';

export const CASE_FILE = 'case.json';
export const IO_FILE = 'io.safetensors';

function caseError(name: string, why: string): CnextError {
  return new CnextError('PARITY_CASE_INVALID', `${name}: ${why}`);
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isTolNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

/** Checks the fields every runner relies on; everything else is passed through untouched. */
export function validateCaseJson(name: string, json: unknown): CaseJson {
  if (!isRecord(json)) throw caseError(name, `${CASE_FILE} is not a JSON object`);
  if (typeof json.kind !== 'string' || !json.kind) throw caseError(name, `${CASE_FILE} has no "kind" string`);
  for (const key of ['config', 'inputs'] as const) {
    if (json[key] !== undefined && !isRecord(json[key])) throw caseError(name, `${CASE_FILE} "${key}" is not an object`);
  }
  const tol = json.tolerance;
  if (!isRecord(tol) || !isTolNumber(tol.max_abs) || !isTolNumber(tol.mean_abs)) {
    throw caseError(name, `${CASE_FILE} "tolerance" needs non-negative numbers max_abs and mean_abs, got ${JSON.stringify(tol)}`);
  }
  if (tol.per_output !== undefined) {
    if (!isRecord(tol.per_output)) throw caseError(name, `${CASE_FILE} "tolerance.per_output" is not an object`);
    for (const [out, t] of Object.entries(tol.per_output)) {
      if (!isRecord(t) || !isTolNumber(t.max_abs) || !isTolNumber(t.mean_abs)) {
        throw caseError(name, `${CASE_FILE} "tolerance.per_output.${out}" needs numbers max_abs and mean_abs`);
      }
    }
  }
  const w = json.weights;
  if (w !== undefined && w !== null && typeof w !== 'string' && !(isRecord(w) && Object.values(w).every((p) => typeof p === 'string'))) {
    throw caseError(name, `${CASE_FILE} "weights" must be a path or a map component → path, got ${JSON.stringify(w)}`);
  }
  return {
    ...json,
    kind: json.kind,
    config: (json.config as Record<string, unknown> | undefined) ?? {},
    inputs: (json.inputs as Record<string, unknown> | undefined) ?? {},
    tolerance: tol as unknown as Tolerance,
    weights: (w ?? undefined) as CaseJson['weights'],
  };
}

/** Reads case.json of a case folder (no tensors). */
export function readCaseJson(dir: string): CaseJson {
  const name = path.basename(dir);
  const file = path.join(dir, CASE_FILE);
  if (!fs.existsSync(file)) throw new CnextError('PARITY_MISSING_FILE', `${name}: missing file ${file}`);
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw caseError(name, `${CASE_FILE} is not valid JSON (${(e as Error).message})`);
  }
  return validateCaseJson(name, json);
}

/** Every tensor of a safetensors file, floats as float32. */
export function readAllTensors(file: string): Map<string, Tensor> {
  const io = new Map<string, Tensor>();
  for (const e of readSafetensorsHeader(file).entries) io.set(e.name, readTensor(e));
  return io;
}

/** Loads a whole case: case.json, every io tensor, and the weights resolver; its networks run with `session`. */
export function loadCase(dir: string, session: SessionOptions = {}): ParityCase {
  const abs = path.resolve(dir);
  const name = path.basename(abs);
  const json = readCaseJson(abs);
  const ioFile = path.join(abs, IO_FILE);
  if (!fs.existsSync(ioFile)) throw new CnextError('PARITY_MISSING_FILE', `${name}: missing file ${ioFile}`);
  const io = readAllTensors(ioFile);
  return {
    dir: abs,
    name,
    json,
    io,
    session,
    weightsPath(component?: string): string {
      const w = json.weights;
      let rel: string;
      if (w === undefined) {
        throw new CnextError('PARITY_MISSING_FILE', `${name}: ${CASE_FILE} names no weights`);
      } else if (typeof w === 'string') {
        rel = w; // one file holds the whole model, whatever component is asked for
      } else {
        if (component === undefined) {
          throw new CnextError('PARITY_CASE_INVALID', `${name}: weights are per component (${Object.keys(w).join(', ')}); name one`);
        }
        rel = w[component];
        if (rel === undefined) {
          throw new CnextError('PARITY_MISSING_FILE', `${name}: ${CASE_FILE} has no weights for component "${component}" (has ${Object.keys(w).join(', ')})`);
        }
      }
      const p = path.resolve(abs, rel);
      if (!fs.existsSync(p)) throw new CnextError('PARITY_MISSING_FILE', `${name}: missing weights file ${rel} (${p})`);
      return p;
    },
  };
}

/**
 * Case folders named by `dirs`: a folder with case.json is a case; otherwise its sub-folders that have one
 * (one level, sorted by name). A folder with neither is an error, so a typo never passes as "0 failed".
 */
export function findCaseDirs(dirs: readonly string[]): string[] {
  const out: string[] = [];
  for (const d of dirs) {
    const abs = path.resolve(d);
    let st: fs.Stats;
    try {
      st = fs.statSync(abs);
    } catch {
      throw new CnextError('PARITY_NO_CASES', `${d} does not exist`);
    }
    if (!st.isDirectory()) throw new CnextError('PARITY_NO_CASES', `${d} is not a folder (give a case folder or a folder of cases)`);
    if (fs.existsSync(path.join(abs, CASE_FILE))) {
      out.push(abs);
      continue;
    }
    const subs = fs.readdirSync(abs, { withFileTypes: true })
      .filter((e) => (e.isDirectory() || e.isSymbolicLink()) && fs.existsSync(path.join(abs, e.name, CASE_FILE)))
      .map((e) => e.name)
      .sort();
    if (!subs.length) throw new CnextError('PARITY_NO_CASES', `${d} has no ${CASE_FILE} and no sub-folder with one`);
    for (const s of subs) out.push(path.join(abs, s));
  }
  return out;
}
