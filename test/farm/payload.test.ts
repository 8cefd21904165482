// The farm's input checks without Redis: the job schema, path confinement and mapping, URL parsing and redaction.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseQueueUrl, queueError, redactText, redactUrl } from '../../src/farm/connection.ts';
import { compareIdentity, identityKey } from '../../src/farm/identity.ts';
import { confine, mapPath, parsePathMap, resolveRoots } from '../../src/farm/paths.ts';
import { parseFarmJob } from '../../src/farm/payload.ts';
import { DEFAULT_OPTIONS } from '../../src/job/options.ts';

const KEY = 'a'.repeat(64);
const good = () => ({
  format: 'cnext-farm-job', version: 1, name: 'c.mp4', video: '/data/c.mp4', ref: '/data/me.jpg', output: '/data/out/c.mp4',
  preset: 'preview', options: { ...DEFAULT_OPTIONS }, models: [{ name: 'svd-xt-1-1/unet/config.json', bytes: 10, sha256: KEY }], key: KEY,
});

describe('job payload', () => {
  it('accepts a well-formed job', () => {
    expect(parseFarmJob(good()).output).toBe('/data/out/c.mp4');
  });
  it.each([
    ['not an object', 'hello', "Rejected job: not a valid cnext-farm-job message (the message: Invalid input: expected object, received string)"],
    ['a relative path', { ...good(), video: 'c.mp4' }, 'Rejected job: not a valid cnext-farm-job message (video: must be an absolute path)'],
    ['a .. segment', { ...good(), output: '/data/out/../../etc/x.mp4' }, "Rejected job: not a valid cnext-farm-job message (output: must not contain '..')"],
    ['an output that is no .mp4', { ...good(), output: '/data/out/c.sh' }, 'Rejected job: not a valid cnext-farm-job message (output: must end in .mp4)'],
    ['a knob out of bounds', { ...good(), options: { ...DEFAULT_OPTIONS, steps: 1e9 } }, 'Rejected job: not a valid cnext-farm-job message (options.steps: Too big: expected number to be <=1000)'],
    ['an unknown field', { ...good(), exec: 'rm -rf /' }, 'Rejected job: not a valid cnext-farm-job message (the message: Unrecognized key: "exec")'],
    ['a NUL byte', { ...good(), ref: '/data/me.jpg\0.png' }, 'Rejected job: not a valid cnext-farm-job message (ref: contains a NUL byte)'],
  ])('rejects %s with one line', (_, data, message) => {
    expect(() => parseFarmJob(data)).toThrow(message);
  });
});

describe('paths', () => {
  const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'cnext-farm-paths-')));
  const outside = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'cnext-farm-outside-')));
  fs.mkdirSync(path.join(root, 'in'));
  fs.writeFileSync(path.join(root, 'in', 'c.mp4'), 'x');
  fs.symlinkSync(outside, path.join(root, 'escape'));
  afterAll(() => {
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(outside, { recursive: true, force: true });
  });
  const roots = resolveRoots([root]);

  it('keeps paths inside the roots, existing or not', () => {
    expect(confine(path.join(root, 'in', 'c.mp4'), roots, 'video')).toBe(path.join(root, 'in', 'c.mp4'));
    expect(confine(path.join(root, 'new', 'sub', 'o.mp4'), roots, 'output')).toBe(path.join(root, 'new', 'sub', 'o.mp4'));
  });
  it('refuses paths outside, through a symlink, or with ..', () => {
    expect(() => confine('/etc/passwd', roots, 'video')).toThrow("Rejected job: its video /etc/passwd is outside the worker's --allow-root folders");
    expect(() => confine(path.join(root, 'escape', 'o.mp4'), roots, 'output')).toThrow(/its output .*escape\/o\.mp4 is outside the worker's --allow-root folders/);
    expect(() => confine(`${root}/in/../../etc/passwd`, roots, 'video')).toThrow('Rejected job: its video path is not a plain absolute path');
  });
  it('maps the longest matching prefix, on whole segments', () => {
    const maps = [parsePathMap('/mnt/a=/Volumes/a'), parsePathMap('/mnt/a/deep=/fast')];
    expect(mapPath('/mnt/a/x/c.mp4', maps)).toBe('/Volumes/a/x/c.mp4');
    expect(mapPath('/mnt/a/deep/c.mp4', maps)).toBe('/fast/c.mp4');
    expect(mapPath('/mnt/ab/c.mp4', maps)).toBe('/mnt/ab/c.mp4');
    expect(() => parsePathMap('relative=/x')).toThrow("Expected FROM=TO with two absolute paths for --path-map but received 'relative=/x' of type string");
  });
  it('needs at least one existing root', () => {
    expect(() => resolveRoots([])).toThrow('A worker needs at least one --allow-root DIR');
    expect(() => resolveRoots(['/no/such/dir'])).toThrow("Expected an existing folder for --allow-root but received '/no/such/dir' of type string");
  });
});

describe('queue URL', () => {
  it('parses redis:// and rediss:// and never shows the password', () => {
    const q = parseQueueUrl('rediss://render:p%40ss@queue.example:6380/2');
    expect(q.options).toMatchObject({ host: 'queue.example', port: 6380, db: 2, username: 'render', password: 'p@ss', tls: { servername: 'queue.example' } });
    expect(q.redacted).toBe('rediss://render:***@queue.example:6380/2');
    expect(redactUrl('redis://:hunter2@h:1')).toBe('redis://:***@h:1');
    expect(redactText('ERR bad hunter2 hunter2', { password: 'hunter2' })).toBe('ERR bad *** ***');
    expect(parseQueueUrl(undefined, { CNEXT_QUEUE: 'redis://h' }).options).toMatchObject({ host: 'h', port: 6379, db: 0 });
  });
  it('refuses other schemes and missing URLs in one line', () => {
    expect(() => parseQueueUrl('http://u:secret@h:1')).toThrow("Expected redis://[user:pass@]host:port[/db] or rediss://… for --queue but received 'http://u:***@h:1'");
    expect(() => parseQueueUrl(undefined, {})).toThrow('No queue: give --queue redis://host:6379 or set CNEXT_QUEUE');
  });
  it('words an authentication failure without the password', () => {
    const q = parseQueueUrl('redis://:topsecret@10.0.0.1:6379');
    const e = queueError(Object.assign(new Error('WRONGPASS invalid username-password pair or user is disabled.'), {}), q);
    expect(e.describe()).toBe('Cannot use the queue at redis://:***@10.0.0.1:6379: it refused the user name or password (check redis://user:PASSWORD@host:port)');
  });
});

describe('model identity', () => {
  const a = [{ name: 'm/unet.bin', bytes: 5, sha256: KEY }, { name: 'm/config.json', bytes: 2 }];
  it('is a key of names, sizes and hashes, independent of order', () => {
    expect(identityKey(a)).toBe(identityKey([...a].reverse()));
    expect(identityKey(a)).not.toBe(identityKey([{ ...a[0]!, bytes: 6 }, a[1]!]));
  });
  it('names each difference', async () => {
    const local = [{ name: 'm/unet.bin', bytes: 5 }, { name: 'm/extra.bin', bytes: 1 }];
    const diffs = await compareIdentity(a, local, async () => 'b'.repeat(64));
    expect(diffs).toEqual(['m/unet.bin has another sha256 here', 'm/config.json is missing here', 'm/extra.bin is used here but not in the job']);
  });
});
