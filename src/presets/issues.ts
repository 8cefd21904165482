// Words the first zod issue of a preset check the way core/is.ts words parameter errors, naming the key and
// listing the valid choices (settings, enum values) where there are some:
//   Expected integer between 1 and 1000 for "steps" but received 0 of type number
import type { z } from 'zod';
import { invalidParameterError } from '../core/is.ts';
import { expectedFor, flagName } from '../job/knobs.ts';
import { PRESET_KEYS } from './schema.ts';

export { expectedFor } from '../job/knobs.ts';

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
