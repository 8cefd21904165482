import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { register } from '../../src/cli/presets.ts';
import type { UserPreset } from '../../src/presets/index.ts';

async function cnext(args: string[], user: UserPreset[] = []): Promise<string> {
  let out = '';
  const program = new Command('cnext').exitOverride().configureOutput({ writeOut: (s) => (out += s), writeErr: (s) => (out += s) });
  register(program, { user, out: (s) => (out += s) });
  try {
    await program.parseAsync(args, { from: 'user' });
  } catch (e) {
    if ((e as { code?: string }).code !== 'commander.helpDisplayed') throw e;
  }
  return out;
}

describe('cnext presets', () => {
  it('--help', async () => {
    expect(await cnext(['presets', '--help'])).toMatchSnapshot();
    expect(await cnext(['presets', 'show', '--help'])).toMatchSnapshot();
  });
  it('lists every preset with its key values', async () => {
    const out = await cnext(['presets'], [{ name: 'mine', extends: 'hq', values: { steps: 30 } }]);
    expect(out).toMatchSnapshot();
    expect(out).toContain('dance-portrait *  576x1024  2       240         25     3         24/6');
    expect(out).toMatch(/mine +576x1024 +1 +480 +30 /);
  });
  it('show NAME prints every resolved value; --json too', async () => {
    expect(await cnext(['presets', 'show', 'landscape'])).toMatchSnapshot();
    const j = JSON.parse(await cnext(['presets', 'show', 'hq', '--json'])) as { values: Record<string, unknown>; setByPreset: string[] };
    expect(j.values).toMatchObject({ stride: 1, steps: 40, device: 'cpu', lowMemory: false });
    expect(j.setByPreset).not.toContain('device');
  });
  it('show with an unknown name lists the valid ones', async () => {
    await expect(cnext(['presets', 'show', 'portrait'])).rejects.toThrow(
      "Unknown preset 'portrait'; valid presets: dance-portrait, preview, hq, square, landscape",
    );
  });
});
