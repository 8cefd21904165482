// The failures a user can reach, walked through the real CLI (bin/cnext.js, piped like a script would): each one
// exits 2 (bad input) or 3 (system), prints its error exactly once, on stderr, as `cnext: …`, and never a stack
// trace. The expensive ones (models, folders) fail in preflight, before any pose extraction.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DANCE, REF, tempDir, tinyModels } from '../job/helpers.ts';

const BIN = fileURLToPath(new URL('../../bin/cnext.js', import.meta.url));
let dir: string;
let models: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  dir = tempDir('cnext-failures-');
  models = tinyModels(dir);
  env = { ...process.env, CNEXT_CONFIG: '', XDG_CONFIG_HOME: path.join(dir, 'config'), CNEXT_CACHE: path.join(dir, 'cache'), CNEXT_DEBUG: '' };
  fs.writeFileSync(path.join(dir, 'a-file'), 'x');
  fs.writeFileSync(path.join(dir, 'garbage.mp4'), 'not a video');
  await sharp({ create: { width: 256, height: 256, channels: 3, background: '#808080' } }).jpeg().toFile(path.join(dir, 'grey.jpg'));
  // a truncated download of the ControlNeXt weights
  fs.cpSync(models, path.join(dir, 'damaged'), { recursive: true });
  const bin = path.join(dir, 'damaged', 'controlnext-svd-v2', 'controlnet.bin');
  fs.truncateSync(bin, fs.statSync(bin).size - 4096);
  fs.mkdirSync(path.join(dir, 'empty-models'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function cnext(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { env, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const out = (name = 'o.mp4') => path.join(dir, 'out', name);
const run = (...extra: string[]) => ['run', '--ref', REF, '--video', DANCE, '--out', out(), '--models', models, '--preset', 'preview', ...extra];

const CASES: ReadonlyArray<{ name: string; args: () => string[]; code: number; error: RegExp }> = [
  { name: 'missing option', args: () => ['run', '--ref', REF, '--video', DANCE], code: 2, error: /^cnext: required option '--out <file\.mp4>' not specified \(see cnext run --help\)$/ },
  { name: 'unknown flag', args: () => [...run(), '--stepz', '3'], code: 2, error: /^cnext: unknown option '--stepz' \(Did you mean --steps\?\) \(see cnext run --help\)$/ },
  { name: 'bad flag value', args: () => run('--steps', '0'), code: 2, error: /^cnext: Expected integer between 1 and 1000 for --steps but received 0 of type number$/ },
  { name: 'precision the CPU lacks', args: () => run('--precision', 'fp16'), code: 2, error: /^cnext: --precision fp16 needs --device cuda; the CPU runs fp32 only$/ },
  { name: 'missing input', args: () => ['run', '--ref', path.join(dir, 'nope.jpg'), '--video', DANCE, '--out', out()], code: 2, error: /^cnext: The image .*nope\.jpg does not exist$/ },
  { name: 'unknown command', args: () => ['frobnicate'], code: 2, error: /^cnext: unknown command 'frobnicate' \(see cnext --help\)$/ },
  {
    name: 'unwritable output folder', args: () => ['run', '--ref', REF, '--video', DANCE, '--out', path.join(dir, 'a-file', 'sub', 'o.mp4'), '--models', models],
    code: 3, error: /^cnext: Cannot write to the folder .*a-file\/sub: a part of the path is a file, not a folder$/,
  },
  {
    name: 'batch into an unwritable folder', args: () => ['batch', path.dirname(DANCE), '--ref', REF, '--out', path.join(dir, 'a-file', 'results'), '--models', models],
    code: 3, error: /^cnext: Cannot write to the folder .*a-file\/results: a part of the path is a file, not a folder$/,
  },
  {
    name: 'pose into an unwritable folder', args: () => ['pose', DANCE, '--out', path.join(dir, 'a-file', 'poses')],
    code: 3, error: /^cnext: Cannot write to the folder .*a-file\/poses: a part of the path is a file, not a folder$/,
  },
  {
    name: 'models synth into an unwritable folder', args: () => ['models', 'synth', '--preset', 'tiny', '--out', path.join(dir, 'a-file', 'm')],
    code: 3, error: /^cnext: Cannot write to the folder .*a-file\/m: a part of the path is a file, not a folder$/,
  },
  { name: 'no models', args: () => run('--models', path.join(dir, 'empty-models')), code: 2, error: /^cnext: Stable Video Diffusion img2vid-xt 1\.1 \(svd-xt-1-1\/\) not found in the models folder/ },
  { name: 'truncated weights', args: () => run('--models', path.join(dir, 'damaged')), code: 3, error: /^cnext: Weight file .*controlnet\.bin is \d+ bytes, expected \d+ \(truncated download\?\)$/ },
  { name: 'unreadable video', args: () => ['run', '--ref', REF, '--video', path.join(dir, 'garbage.mp4'), '--out', out(), '--models', models], code: 2, error: /^cnext: Cannot read video .*garbage\.mp4: not a video ffmpeg understands/ },
  { name: 'no person in the photo', args: () => ['run', '--ref', path.join(dir, 'grey.jpg'), '--video', DANCE, '--out', out(), '--models', models, '--preset', 'preview'], code: 2, error: /^cnext: No person found in the reference image$/ },
];

describe('user-facing failures through bin/cnext.js', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const r = cnext(c.args());
      const all = r.stdout + r.stderr;
      expect(all, 'no stack trace').not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
      expect(all).not.toMatch(/internal error|npm warn/i);
      const first = r.stderr.split('\n')[0]!;
      expect(first).toMatch(c.error);
      const message = first.replace(/^cnext: /, '');
      expect(all.split(message).length - 1, 'the error appears once').toBe(1);
      expect(r.stdout).not.toContain('cnext: ');
      expect(r.code).toBe(c.code);
    }, 120_000);
  }

  it('the damaged weights fail before any pose extraction', () => {
    const r = cnext(run('--models', path.join(dir, 'damaged')));
    expect(r.stdout).not.toMatch(/align|pose/);
    expect(r.stderr).toContain('Possible solutions:');
  });

  it('cnext --version prints the version alone', () => {
    const r = cnext(['--version']);
    const pkg = JSON.parse(fs.readFileSync(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8')) as { version: string };
    expect(r).toEqual({ code: 0, stdout: `${pkg.version}\n`, stderr: '' });
  });
});

describe('the bundled ffmpeg', () => {
  it('runs the pose command when no system ffmpeg is on PATH', () => {
    const poses = path.join(dir, 'poses');
    const r = spawnSync(process.execPath, [BIN, 'pose', DANCE, '--out', poses, '--max-frames', '3', '--stride', '10'], {
      env: { ...env, PATH: '' }, encoding: 'utf8', timeout: 120_000,
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const doc = JSON.parse(fs.readFileSync(path.join(poses, 'poses.json'), 'utf8')) as { frames: unknown[] };
    expect(doc.frames).toHaveLength(3);
  }, 120_000);
});
