// What travels through the queue: one batch item as a `cnext-farm-job` v1 message. A message is untrusted input
// (anyone who can write to Redis can add one), so the worker parses it with this schema before touching
// anything: absolute paths without NUL or `..`, an .mp4 output, every knob within the bounds the flags have, the
// model identity, the item key. A message that does not parse is rejected with the first problem named.
import path from 'node:path';
import { z } from 'zod';
import { CnextError } from '../core/errors.ts';
import { knobSchema } from '../job/knobs.ts';
import type { JobOptions } from '../job/options.ts';

/** The BullMQ queue every `cnext worker` and `cnext batch --queue` use. */
export const QUEUE_NAME = 'cnext-jobs';

/** Job ids come from the item key: the same item enqueued twice is one job. */
export const jobIdFor = (key: string): string => `item-${key.slice(0, 40)}`;

const absolutePath = z
  .string()
  .min(1)
  .max(4096)
  .refine((p) => !p.includes('\0'), 'contains a NUL byte')
  .refine((p) => path.isAbsolute(p), 'must be an absolute path')
  .refine((p) => !p.split(/[\\/]/).includes('..'), "must not contain '..'");

export const modelFileId = z
  .object({
    /** Path relative to the models root, `/`-separated (svd-xt-1-1/unet/config.json). */
    name: z.string().min(1).max(512),
    bytes: z.number().int().min(0),
    sha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
  })
  .strict();
export type ModelFileId = z.infer<typeof modelFileId>;

export const farmJob = z
  .object({
    format: z.literal('cnext-farm-job'),
    version: z.literal(1),
    /** The item's name in the batch (shown by the follower). */
    name: z.string().min(1).max(1024),
    video: absolutePath,
    ref: absolutePath,
    output: absolutePath.refine((p) => p.toLowerCase().endsWith('.mp4'), 'must end in .mp4'),
    preset: z.string().min(1).max(200),
    /** Every job knob, resolved (src/job/knobs.ts, scope 'job'), within the bounds the flags have. */
    options: knobSchema('job').required().strict(),
    /** The model files the item was planned with (src/farm/identity.ts). */
    models: z.array(modelFileId).min(1).max(64),
    /** src/batch/key.ts itemKey (with the models' identity key). */
    key: z.string().regex(/^[0-9a-f]{64}$/),
  })
  .strict();
export type FarmJob = z.infer<typeof farmJob> & { readonly options: JobOptions };

/** Parses untrusted job data; the first problem becomes one line (values are not echoed back). */
export function parseFarmJob(data: unknown): FarmJob {
  const r = farmJob.safeParse(data);
  if (r.success) return r.data as FarmJob;
  const issue = r.error.issues[0]!;
  const where = issue.path.length ? issue.path.join('.') : 'the message';
  return badPayload(`${where}: ${issue.message}`);
}

function badPayload(why: string): never {
  throw new CnextError('JOB_PAYLOAD_INVALID', `Rejected job: not a valid cnext-farm-job message (${why.slice(0, 300)})`);
}
