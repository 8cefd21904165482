// Words the first zod issue of a preset or flag check the way core/is.ts words parameter errors, naming the flag
// and listing the valid choices (settings, enum values) where there are some:
//   Expected integer between 1 and 1000 for --steps but received 0 of type number
import { z } from 'zod';
import { invalidParameterError } from '../core/is.ts';
import { PRESET_KEYS, flagName, presetValues } from './schema.ts';

/** What a preset setting accepts, in words: `integer between 1 and 1000`, `one of cover, pad`. */
export function expectedFor(key: string): string {
  const field = (presetValues.shape as Record<string, z.ZodType>)[key];
  if (!field) return `one of the settings ${PRESET_KEYS.join(', ')}`;
  const inner = field instanceof z.ZodOptional ? (field.unwrap() as z.ZodType) : field;
  if (inner instanceof z.ZodEnum) return `one of ${inner.options.join(', ')}`;
  if (inner instanceof z.ZodNumber) {
    const multiple = inner.def.checks?.find((c) => c._zod.def.check === 'multiple_of') as
      | { _zod: { def: { value: number } } }
      | undefined;
    const kind = inner.isInt ? 'integer' : 'number';
    const range = `between ${inner.minValue} and ${inner.maxValue}`;
    return multiple ? `${kind} ${range}, a multiple of ${multiple._zod.def.value}` : `${kind} ${range}`;
  }
  if (inner instanceof z.ZodString) return 'string';
  if (inner instanceof z.ZodBoolean) return 'true or false';
  return 'valid value';
}

/** The issue as the message of invalidParameterError; `name` words the key (a flag, or the preset file's key). */
export function describeIssue(issue: z.core.$ZodIssue, input: unknown, name: (key: string) => string = flagName): string {
  if (issue.code === 'unrecognized_keys') {
    return `unknown setting${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `'${k}'`).join(', ')}; valid settings: ${PRESET_KEYS.join(', ')}, description, extends`;
  }
  const key = String(issue.path[0] ?? '');
  const value = key && typeof input === 'object' && input !== null ? (input as Record<string, unknown>)[key] : input;
  const expected = key === 'description' || key === 'extends' ? 'string' : expectedFor(key);
  return invalidParameterError(name(key), expected, value).message;
}
