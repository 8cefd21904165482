import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const home = fs.mkdtempSync(path.join(os.tmpdir(), 'cnext-home-'));
afterAll(() => fs.rmSync(home, { recursive: true, force: true }));
const fixtures = process.env.CNEXT_FIXTURES ?? path.resolve(import.meta.dirname, '../../../shared/fixtures');

describe('onnxruntime telemetry', () => {
  it('is switched off: a session in a fresh HOME leaves no device id and no event store', () => {
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, XDG_CACHE_HOME: '' };
    delete env.ORT_DISABLE_TELEMETRY;
    const bin = path.join(import.meta.dirname, '../../bin/cnext.js');
    const r = spawnSync(process.execPath, [bin, 'parity', path.join(fixtures, 'clip_tiny')], { env, encoding: 'utf8', timeout: 120_000 });
    expect(r.stdout).toMatch(/^PASS clip_tiny /m); // a session really ran
    expect(fs.existsSync(path.join(home, '.cache', 'Microsoft'))).toBe(false);
  });
});
