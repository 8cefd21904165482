import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { register } from '../../src/cli/run.ts';
import { PRESET_KEYS, flagName } from '../../src/presets/index.ts';

describe('flagName', () => {
  it('names a real `cnext run` flag for every preset key', () => {
    const program = new Command('cnext');
    register(program);
    const run = program.commands.find((c) => c.name() === 'run')!;
    const flags = new Set(run.options.map((o) => o.long));
    for (const key of PRESET_KEYS) {
      if (key === 'lowMemory') {
        expect(flags.has('--low-memory')).toBe(true);
        continue;
      }
      expect(flags, `${key} → ${flagName(key)}`).toContain(flagName(key));
    }
  });
});
