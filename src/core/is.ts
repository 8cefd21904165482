// Small predicates and the one parameter-error factory (after sharp's lib/is.js).
import { CnextError } from './errors.ts';

export const isNumber = (v: unknown): v is number => typeof v === 'number' && !Number.isNaN(v);
export const isInteger = (v: unknown): v is number => Number.isInteger(v);
export const isInRange = (v: number, min: number, max: number): boolean => v >= min && v <= max;

/** `Expected integer between 1 and 240 for --max-frames but received 0 of type number` */
export function invalidParameterError(name: string, expected: string, actual: unknown): CnextError {
  const kind = actual === null ? 'null' : typeof actual;
  const shown = typeof actual === 'string' ? `'${actual}'` : String(actual);
  return new CnextError(
    'INVALID_PARAMETER',
    `Expected ${expected} for ${name} but received ${shown} of type ${kind}`,
  );
}
