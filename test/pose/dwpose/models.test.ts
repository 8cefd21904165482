// `cnext models pull|verify|list dwpose` against a local stand-in for the Hugging Face hub (test/helpers/hub-server.ts):
// the registry entry's repo and file names, resume after a dropped connection, sha256 from the hub's headers,
// the .onnx content check, and `--pose-model auto` picking the pulled files up.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CnextError } from '../../../src/core/errors.ts';
import { register } from '../../../src/cli/models.ts';
import { readManifest } from '../../../models/cache.ts';
import { resolvePoseModel } from '../../../models/pose-model.ts';
import { findModel, REGISTRY } from '../../../models/registry.ts';
import { buildSynthDetector, buildSynthPose } from '../../../pose/dwpose/synth.ts';
import { startHubServer, type HubServer } from '../../helpers/hub-server.ts';

const DET = Buffer.from(buildSynthDetector());
const POSE = Buffer.from(buildSynthPose());
let hub: HubServer;
let root: string;

beforeAll(async () => {
  hub = await startHubServer({ 'yzd-v/DWPose': { files: { 'yolox_l.onnx': DET, 'dw-ll_ucoco_384.onnx': POSE } } });
});
afterAll(async () => hub.close());
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'cnext-dwpose-pull-'));
  hub.faults.dropAfter.clear();
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

async function run(args: string[]): Promise<{ out: string; error?: CnextError }> {
  let out = '';
  const program = new Command('cnext').exitOverride();
  register(program, { registry: REGISTRY, env: { HF_ENDPOINT: hub.endpoint }, out: (s) => (out += s), progressMs: 0 });
  try {
    await program.parseAsync(args, { from: 'user' });
    return { out };
  } catch (e) {
    if (!(e instanceof CnextError)) throw e;
    return { out, error: e };
  }
}

describe('cnext models … dwpose', () => {
  it('the registry entry: yzd-v/DWPose, both files, Apache-2.0, not in the default pull', () => {
    const e = findModel('dwpose')!;
    expect(e.source).toEqual({ kind: 'hf', repo: 'yzd-v/DWPose', revision: 'main', gated: false });
    expect(e.files.map((f) => f.path)).toEqual(['yolox_l.onnx', 'dw-ll_ucoco_384.onnx']);
    expect(e.licence.name).toBe('Apache-2.0');
  });

  it('pull (resumed after a drop) → verify → auto uses it; a damaged file fails verify', async () => {
    expect(resolvePoseModel('auto', root)).toEqual({ extractor: 'mediapipe' });
    hub.faults.dropAfter.set('yolox_l.onnx', 100_000);
    const pull = await run(['models', 'pull', 'dwpose', '--models', root]);
    expect(pull.error).toBeUndefined();
    expect(pull.out).toContain(`dwpose: ${hub.endpoint}/yzd-v/DWPose (main)\n`);
    expect(pull.out).toMatch(/warning: dwpose\/yolox_l\.onnx: The connection to .* dropped after .* Resuming \(attempt 2\)\./);
    expect(pull.out).toContain('dwpose: 2 downloaded, 0 already present\n');
    expect(fs.readFileSync(path.join(root, 'dwpose', 'yolox_l.onnx')).equals(DET)).toBe(true);
    expect(readManifest(root, { name: 'dwpose' }).files['dw-ll_ucoco_384.onnx']).toMatchObject({ bytes: POSE.length, sha256: hub.sha256(POSE), sha256Source: 'hub' });

    const list = await run(['models', 'list', '--models', root]);
    expect(list.out).toMatch(/dwpose {2}installed/);
    const ok = await run(['models', 'verify', 'dwpose', '--models', root]);
    expect(ok.error).toBeUndefined();
    expect(ok.out).toBe(
      'dwpose\n' +
        `  OK   yolox_l.onnx  size ${DET.length}, sha256 (hub), ONNX header: ir_version 10\n` +
        `  OK   dw-ll_ucoco_384.onnx  size ${POSE.length}, sha256 (hub), ONNX header: ir_version 10\n`,
    );
    expect(resolvePoseModel('auto', root)).toEqual({
      extractor: 'dwpose',
      files: { det: path.join(root, 'dwpose', 'yolox_l.onnx'), pose: path.join(root, 'dwpose', 'dw-ll_ucoco_384.onnx') },
    });

    // an HTML error page saved under the model's name, same length: the content check names it
    const p = path.join(root, 'dwpose', 'yolox_l.onnx');
    fs.writeFileSync(p, Buffer.alloc(DET.length, '<html>'));
    const bad = await run(['models', 'verify', 'dwpose', '--no-hash', '--models', root]);
    expect(bad.error?.code).toBe('MODELS_VERIFY_FAILED');
    expect(bad.out).toContain('  FAIL yolox_l.onnx  not an ONNX model (no ir_version field at byte 0)\n');
  });
});
