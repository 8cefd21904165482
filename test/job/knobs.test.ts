// The knob table: every row is consistent (default within its bound), and every consumer derives from it —
// commander's options of run and batch, the presets schema, the job options.
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { register as registerBatch } from '../../src/cli/batch.ts';
import { register as registerRun } from '../../src/cli/run.ts';
import { flagName, KNOB_KEYS, KNOBS, keysIn, knobHelp, parseKnobFlags, parseSize } from '../../src/job/knobs.ts';
import { DEFAULT_OPTIONS, generateParams } from '../../src/job/options.ts';
import { PRESET_KEYS } from '../../src/presets/index.ts';
import { DEFAULT_GENERATE_PARAMS } from '../../src/diffusion/pipeline.ts';

describe('knob table', () => {
  it('every default lies within its own bound', () => {
    for (const k of KNOB_KEYS) {
      const d = KNOBS[k].default;
      if (d !== undefined) expect(KNOBS[k].schema.safeParse(d).success, k).toBe(true);
    }
  });

  it('run and batch have exactly the flags of their rows, with the defaults in the help', () => {
    for (const [name, register] of [['run', registerRun], ['batch', registerBatch]] as const) {
      const program = new Command('cnext');
      register(program);
      const cmd = program.commands.find((c) => c.name() === name)!;
      const byFlag = new Map(cmd.options.map((o) => [o.long!, o]));
      for (const k of keysIn(name)) {
        expect(byFlag.get(flagName(k))?.description, `${name} ${flagName(k)}`).toBe(knobHelp(k));
      }
    }
    expect(knobHelp('steps')).toBe('denoising steps (default 25)');
    expect(knobHelp('precision')).toBe('fp32, tf32, fp16; the cpu runs fp32 only (default fp32 on cpu, fp16 on cuda)');
  });

  it('presets and job options are the rows that say so; the defaults are the reference run', () => {
    expect(PRESET_KEYS).toEqual(keysIn('presets'));
    expect(Object.keys(DEFAULT_OPTIONS).sort()).toEqual([...keysIn('job')].sort());
    expect(DEFAULT_OPTIONS).toMatchObject({ size: '576x1024', precision: 'fp32', retarget: 'fit', fpsId: 6, motionBucketId: 128, noiseAugStrength: 0.02 });
  });

  it('one adapter to the generator: every knob reaches GenerateParams under its diffusion name', () => {
    const o = { ...DEFAULT_OPTIONS, guidanceMin: 1, guidanceMax: 2, fpsId: 9, motionBucketId: 60, noiseAugStrength: 0.1, controlStrength: 0.5 };
    expect(generateParams(o, 100)).toEqual({
      ...DEFAULT_GENERATE_PARAMS, minGuidance: 1, maxGuidance: 2, fpsId: 9, motionBucketId: 60, noiseAugStrength: 0.1, controlStrength: 0.5,
    });
  });

  it('parses commander text into numbers and checks it', () => {
    expect(parseKnobFlags({ steps: ' 7 ', size: '64x128', lowMemory: true, out: 'ignored' }, 'run')).toEqual({ steps: 7, size: '64x128', lowMemory: true });
    expect(() => parseKnobFlags({ overlap: '1e9' }, 'batch')).toThrow('Expected integer between 0 and 255 for --overlap but received 1000000000 of type number');
    expect(parseSize('576x1024')).toEqual({ width: 576, height: 1024 });
  });
});
