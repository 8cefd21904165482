import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CnextError } from '../../src/core/errors.ts';
import { buildProgram } from '../../src/cli/main.ts';
import { formatBytes, modelsGroup, register } from '../../src/cli/models.ts';
import type { ModelEntry } from '../../models/registry.ts';
import { writeSafetensors } from '../../src/weights/safetensors.ts';
import { startHubServer, type HubServer } from '../helpers/hub-server.ts';

let hub: HubServer;
let root: string;
let weights: Buffer;

const registry: ModelEntry[] = [
  {
    name: 'svd-tiny',
    title: 'tiny SVD',
    role: 'svd',
    source: { kind: 'hf', repo: 'acme/svd', revision: 'main', gated: true },
    licence: { name: 'Test Licence', url: 'http://example.invalid' },
    files: [{ path: 'unet/config.json' }, { path: 'unet/w.safetensors' }],
  },
  {
    name: 'mp',
    title: 'bundles',
    role: 'mediapipe',
    source: { kind: 'local-build', from: '@mediapipe/holistic', builder: 'models/mediapipe-task.ts' },
    licence: { name: 'Apache-2.0', url: 'http://example.invalid' },
    files: [{ path: 'pose.task' }],
  },
];

beforeAll(async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cnext-w-'));
  writeSafetensors(path.join(tmp, 'w.safetensors'), {
    'conv_in.weight': { dtype: 'F32', shape: [64, 64], data: new Uint8Array(randomBytes(64 * 64 * 4)) },
  });
  weights = fs.readFileSync(path.join(tmp, 'w.safetensors'));
  fs.rmSync(tmp, { recursive: true });
  hub = await startHubServer({
    'acme/svd': { gated: true, files: { 'unet/config.json': Buffer.from('{"in_channels":8}'), 'unet/w.safetensors': weights } },
  });
});
afterAll(async () => hub.close());
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'cnext-cli-'));
  hub.faults.dropAfter.clear();
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

async function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ out: string; error?: CnextError }> {
  let out = '';
  const program = new Command('cnext').exitOverride();
  register(program, { registry, env: { HF_ENDPOINT: hub.endpoint, ...env }, out: (s) => (out += s), progressMs: 0 });
  try {
    await program.parseAsync(args, { from: 'user' });
    return { out };
  } catch (e) {
    if (!(e instanceof CnextError)) throw e;
    return { out, error: e };
  }
}

describe('cnext models', () => {
  it('list shows missing models, sources and paths; --json too', async () => {
    const { out } = await run(['models', 'list', '--models', root]);
    expect(out).toContain(`models folder: ${root}\n`);
    expect(out).toContain('svd-tiny  missing  0 B on disk\n');
    expect(out).toContain('  source: hf:acme/svd@main (gated: needs HF_TOKEN)\n');
    expect(out).toContain('  source: built locally from @mediapipe/holistic\n');
    expect(out).toContain('mp  not built (built on first use)  0 B on disk\n');
    expect(out).toContain(`  path: ${path.join(root, 'svd-tiny')}\n`);
    expect(out).toContain('    missing   unet/w.safetensors  size unknown\n');
    const json = JSON.parse((await run(['models', 'list', '--json', '--models', root])).out);
    expect(json.models.map((m: { name: string; state: string }) => [m.name, m.state])).toEqual([
      ['svd-tiny', 'missing'],
      ['mp', 'missing'],
    ]);
  });

  it('CNEXT_CACHE picks the root when --models is not given', async () => {
    const { out } = await run(['models', 'list'], { CNEXT_CACHE: root });
    expect(out).toContain(`models folder: ${path.join(root, 'models')}\n`);
  });

  it('pull of a gated model without HF_TOKEN explains what to do', async () => {
    const { error } = await run(['models', 'pull', 'svd-tiny', '--models', root]);
    expect(error?.code).toBe('DOWNLOAD_GATED');
    expect(error?.describe()).toContain(`Open ${hub.endpoint}/acme/svd, log in and accept the licence.`);
  });

  it('pull → list installed → verify OK; a corrupted file fails verify', async () => {
    hub.faults.dropAfter.set('unet/w.safetensors', 5000); // resumed automatically (--retries default 3)
    const pull = await run(['models', 'pull', 'svd-tiny', 'mp', '--models', root], { HF_TOKEN: hub.token });
    expect(pull.error).toBeUndefined();
    expect(pull.out).toContain(`svd-tiny: ${hub.endpoint}/acme/svd (main), gated\n`);
    expect(pull.out).toContain('  svd-tiny/unet/w.safetensors: downloading\n');
    expect(pull.out).toMatch(/warning: svd-tiny\/unet\/w\.safetensors: The connection to .* dropped after .* Resuming \(attempt 2\)\./);
    expect(pull.out).toContain(`  svd-tiny/unet/w.safetensors: ${formatBytes(weights.length)} / ${formatBytes(weights.length)} 100.0%\n`);
    expect(pull.out).toContain('svd-tiny: 2 downloaded, 0 already present\n');
    expect(pull.out).toContain('mp: built locally from @mediapipe/holistic (models/mediapipe-task.ts); nothing to download\n');
    expect(fs.readFileSync(path.join(root, 'svd-tiny', 'unet', 'w.safetensors')).equals(weights)).toBe(true);

    const list = await run(['models', 'list', '--models', root]);
    expect(list.out).toContain(`svd-tiny  installed  ${formatBytes(weights.length + 17)} of ${formatBytes(weights.length + 17)}\n`);

    const again = await run(['models', 'pull', 'svd-tiny', '--models', root], { HF_TOKEN: hub.token });
    expect(again.out).toContain('svd-tiny: 0 downloaded, 2 already present\n');

    const ok = await run(['models', 'verify', '--models', root]);
    expect(ok.error).toBeUndefined();
    expect(ok.out).toBe(
      'svd-tiny\n' +
        '  OK   unet/config.json  size 17, sha256 (recorded at download), JSON parses\n' +
        `  OK   unet/w.safetensors  size ${weights.length}, sha256 (hub), weights readable: 1 tensors\n`,
    );

    const p = path.join(root, 'svd-tiny', 'unet', 'w.safetensors');
    const buf = fs.readFileSync(p);
    buf[buf.length - 1] ^= 0xff;
    fs.writeFileSync(p, buf);
    const bad = await run(['models', 'verify', 'svd-tiny', '--models', root]);
    expect(bad.error?.code).toBe('MODELS_VERIFY_FAILED');
    expect(bad.error?.message).toBe('1 file failed verification');
    expect(bad.out).toMatch(/  FAIL unet\/w\.safetensors  sha256 [0-9a-f]{64}, expected [0-9a-f]{64}\n/);
    const fast = await run(['models', 'verify', 'svd-tiny', '--no-hash', '--models', root]);
    expect(fast.error).toBeUndefined();
  });

  it('unknown names and bad --retries are user errors', async () => {
    const { error } = await run(['models', 'pull', 'nope', '--models', root]);
    expect(error?.message).toBe("Unknown model 'nope'. Known: svd-tiny, mp");
    const r = await run(['models', 'pull', '--retries', '-1', '--models', root]);
    expect(r.error?.message).toBe("Expected integer >= 0 for --retries but received '-1' of type string");
  });

  it('verify with nothing installed says so', async () => {
    expect((await run(['models', 'verify', '--models', root])).out).toBe(`no models in ${root}; run \`cnext models pull\`\n`);
  });

  it('another file can add a subcommand to the same group, before or after', async () => {
    const program = new Command('cnext');
    modelsGroup(program).command('synth');
    register(program, { registry });
    const group = program.commands.filter((c) => c.name() === 'models');
    expect(group).toHaveLength(1);
    expect(group[0]!.commands.map((c) => c.name())).toEqual(['synth', 'list', 'pull', 'verify']);
  });

  it('is registered in the cnext program', async () => {
    const program = await buildProgram();
    const models = program.commands.find((c) => c.name() === 'models');
    expect(models?.commands.map((c) => c.name())).toEqual(expect.arrayContaining(['list', 'pull', 'verify']));
  });
});

describe('formatBytes', () => {
  it('uses decimal units like the hub', () => {
    expect([999, 1000, 65_536, 3_049_435_836].map(formatBytes)).toEqual(['999 B', '1.00 kB', '65.5 kB', '3.05 GB']);
  });
});
