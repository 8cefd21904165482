import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyGuidance, doClassifierFreeGuidance, guidanceScales, linspaceF32 } from '../../src/diffusion/guidance.ts';
import { readAllTensors } from '../../src/parity/case.ts';
import { fixturesDir } from '../parity/fixtures-dir.ts';

describe('guidance', () => {
  it('reproduces dbg.guidance_scale of pipeline_tiny (linspace(1, 2.5, 4) in float32)', () => {
    const io = readAllTensors(path.join(fixturesDir(), 'pipeline_tiny', 'io.safetensors'));
    expect(guidanceScales(1, 2.5, 4)).toEqual(io.get('dbg.guidance_scale')!.data);
  });

  it('computes torch.linspace in float32: first half from start, second half from end', () => {
    const f = Math.fround;
    const step = f(f(f(3.1) - f(1.3)) / 6);
    const got = linspaceF32(1.3, 3.1, 7);
    expect(got[1]).toBe(f(f(1.3) + step));
    expect(got[4]).toBe(f(f(3.1) - f(step * 2)));
    expect(got[6]).toBe(f(3.1));
    expect([...linspaceF32(3, 3, 24)]).toEqual(Array(24).fill(3));
    expect([...linspaceF32(2, 5, 1)]).toEqual([2]);
  });

  it('turns CFG on at max guidance ≥ 1, like upstream', () => {
    expect(doClassifierFreeGuidance(1)).toBe(true);
    expect(doClassifierFreeGuidance(0.99)).toBe(false);
  });

  it('applies uncond + g·(cond − uncond) per frame position', () => {
    // 2 halves × 2 frames × 3 values
    const out = Float32Array.of(1, 2, 3, 4, 5, 6, 11, 12, 13, 24, 25, 26);
    const g = Float32Array.of(0.5, 2);
    expect([...applyGuidance(out, 2, g)]).toEqual([6, 7, 8, 44, 45, 46]);
  });

  it('rejects negative guidance', () => {
    expect(() => guidanceScales(-1, 3, 4)).toThrow('Expected non-negative number for minGuidance but received -1 of type number');
  });
});
