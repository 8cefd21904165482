// EulerDiscreteScheduler (karras fix, SVD config): config checks, schedule, step-index semantics, step maths.
// Bit-level agreement with the reference is checked by the `scheduler` fixture (test/parity/fixtures.test.ts).
import { describe, expect, it } from 'vitest';
import { float32 } from '../../src/core/tensor.ts';
import { EulerDiscreteScheduler, parseSchedulerConfig } from '../../src/diffusion/scheduler.ts';

/** The real stabilityai/stable-video-diffusion-img2vid-xt scheduler/scheduler_config.json. */
const SVD = {
  _class_name: 'EulerDiscreteScheduler', _diffusers_version: '0.24.0.dev0', beta_end: 0.012, beta_schedule: 'scaled_linear',
  beta_start: 0.00085, clip_sample: false, interpolation_type: 'linear', num_train_timesteps: 1000,
  prediction_type: 'v_prediction', set_alpha_to_one: false, sigma_max: 700.0, sigma_min: 0.002, skip_prk_steps: true,
  steps_offset: 1, timestep_spacing: 'leading', timestep_type: 'continuous', trained_betas: null, use_karras_sigmas: true,
};

function sched(n = 25, over: Record<string, unknown> = {}): EulerDiscreteScheduler {
  const s = new EulerDiscreteScheduler({ ...SVD, ...over });
  s.setTimesteps(n);
  return s;
}

describe('scheduler config', () => {
  it('accepts the SVD config', () => {
    expect(parseSchedulerConfig(SVD)).toMatchObject({ sigma_min: 0.002, sigma_max: 700, timestep_spacing: 'leading' });
  });

  it.each([
    [{ prediction_type: 'epsilon' }, 'scheduler_config.json: prediction_type "epsilon" is not supported (expected "v_prediction"); only the SVD EulerDiscreteScheduler with Karras sigmas, v-prediction and continuous timesteps is implemented'],
    [{ use_karras_sigmas: false }, 'use_karras_sigmas false is not supported (expected true)'],
    [{ timestep_type: 'discrete' }, 'timestep_type "discrete" is not supported (expected "continuous")'],
    [{ sigma_min: null }, 'sigma_min null is not supported (expected a positive number)'],
    [{ sigma_max: -1 }, 'sigma_max -1 is not supported (expected a positive number)'],
    [{ sigma_min: 800 }, 'sigma_min 800 is not supported (expected a value below sigma_max 700)'],
    [{ timestep_spacing: 'sideways' }, 'timestep_spacing "sideways" is not supported'],
    [{ interpolation_type: 'cubic' }, 'interpolation_type "cubic" is not supported'],
    [{ final_sigmas_type: 'sigma_min' }, 'final_sigmas_type "sigma_min" is not supported (expected "zero")'],
    [{ use_exponential_sigmas: true }, 'use_exponential_sigmas true is not supported (expected false)'],
    [{ _class_name: 'DDIMScheduler' }, '_class_name "DDIMScheduler" is not supported (expected "EulerDiscreteScheduler")'],
  ])('rejects %j', (over, message) => {
    expect(() => new EulerDiscreteScheduler({ ...SVD, ...over })).toThrow(message);
  });

  it('rejects a non-object config and a bad step count', () => {
    expect(() => new EulerDiscreteScheduler('x')).toThrow('scheduler_config.json is not a JSON object (got "x")');
    expect(() => sched(0)).toThrow('Expected integer of at least 1 for num_inference_steps but received 0 of type number');
    expect(() => sched(2.5)).toThrow('received 2.5');
  });
});

describe('schedule', () => {
  it('Karras sigmas from sigma_max to sigma_min, then 0, in float32', () => {
    for (const n of [1, 2, 4, 25, 50]) {
      const s = sched(n);
      expect(s.sigmas).toHaveLength(n + 1);
      expect(s.timesteps).toHaveLength(n);
      expect(s.sigmas[0]).toBe(Math.fround(700));
      if (n > 1) expect(s.sigmas[n - 1]).toBe(Math.fround(0.002));
      expect(s.sigmas[n]).toBe(0);
      for (let i = 1; i <= n; i++) expect(s.sigmas[i]).toBeLessThan(s.sigmas[i - 1]);
      for (let i = 0; i < n; i++) {
        const r = n > 1 ? i / (n - 1) : 0;
        const exact = (700 ** (1 / 7) + r * (0.002 ** (1 / 7) - 700 ** (1 / 7))) ** 7;
        expect(Math.abs(s.sigmas[i] - exact) / exact).toBeLessThan(1e-7);
        expect(s.timesteps[i]).toBeCloseTo(0.25 * Math.log(s.sigmas[i]), 6);
      }
    }
  });

  it('continuous timesteps are 0.25·ln σ and go negative at the end', () => {
    const s = sched(25);
    expect(s.timesteps[0]).toBeCloseTo(0.25 * Math.log(700), 6);
    expect(s.timesteps[24]).toBeCloseTo(-1.5537, 4);
    // σ_11 of the 25-step schedule is the fixtures' 23.468; its timestep is controlnext's in.timestep, bit for bit
    expect(s.sigmas[11]).toBeCloseTo(23.468, 3);
    expect(s.timesteps[11]).toBe(0.7889042496681213);
  });

  it('init_noise_sigma is √(σmax² + 1) for leading spacing, σmax otherwise', () => {
    expect(sched(25).initNoiseSigma).toBe(700.000732421875);
    expect(sched(25, { timestep_spacing: 'linspace' }).initNoiseSigma).toBe(700);
    expect(sched(25, { timestep_spacing: 'trailing' }).initNoiseSigma).toBe(700);
  });

  it('needs setTimesteps first', () => {
    const s = new EulerDiscreteScheduler(SVD);
    expect(() => s.initNoiseSigma).toThrow('the scheduler has no timesteps yet: call setTimesteps(n) first');
    expect(() => s.step(Float32Array.of(0), 0, Float32Array.of(0))).toThrow('call setTimesteps(n) first');
  });
});

describe('step index', () => {
  it('is looked up from t when unset, then advances by one per step', () => {
    const s = sched(10);
    expect(s.stepIndex).toBeNull();
    s.scaleModelInput(Float32Array.of(1), s.timesteps[3]);
    expect(s.stepIndex).toBe(3);
    s.step(Float32Array.of(0), s.timesteps[3], Float32Array.of(1));
    expect(s.stepIndex).toBe(4);
    s.resetStepIndex();
    expect(s.stepIndex).toBeNull();
  });

  it('without the reset a second window at the same t steps σ_{k+1} → σ_{k+2}; with it, σ_k → σ_{k+1}', () => {
    const s = sched(10);
    const t = s.timesteps[2];
    const x = Float32Array.of(3, -1, 0.5);
    const v = Float32Array.of(0.2, 0.1, -0.4);
    s.resetStepIndex();
    const first = s.step(v, t, x);
    const noReset = s.step(v, t, x); // index is 3 now, whatever t says
    s.resetStepIndex();
    const withReset = s.step(v, t, x);
    expect(withReset.prevSample).toEqual(first.prevSample);
    expect(noReset.prevSample).not.toEqual(first.prevSample);
    s.resetStepIndex();
    s.step(v, s.timesteps[3], x);
    s.resetStepIndex();
    expect(s.step(v, s.timesteps[3], x).prevSample).toEqual(noReset.prevSample);
  });

  it('a timestep that occurs twice resolves to its second occurrence', () => {
    const s = sched(4);
    s.timesteps = Float32Array.of(1.5, 0.5, 0.5, -1);
    expect(s.indexForTimestep(0.5)).toBe(2);
    expect(s.indexForTimestep(1.5)).toBe(0);
  });

  it('matches t in float32', () => {
    const s = sched(25);
    const t = s.timesteps[7];
    expect(s.indexForTimestep(t + 1e-9)).toBe(7); // rounds to the same float32
    expect(() => s.indexForTimestep(t + 1e-3)).toThrow(`timestep ${t + 1e-3} is not one of the scheduler's 25 timesteps`);
  });

  it('refuses to step past the last sigma', () => {
    const s = sched(2);
    s.step(Float32Array.of(0), s.timesteps[1], Float32Array.of(1));
    expect(() => s.step(Float32Array.of(0), s.timesteps[1], Float32Array.of(1))).toThrow('step index 2 is past the last of 2 steps');
  });
});

describe('step maths (v-prediction)', () => {
  it('x0 = v·(−σ/√(σ²+1)) + x/(σ²+1); prev = x + (x − x0)/σ·(σ_next − σ), to float32 rounding', () => {
    const s = sched(25);
    const n = 257;
    const x = new Float32Array(n);
    const v = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      x[i] = 50 * Math.sin(i * 1.3);
      v[i] = Math.cos(i * 0.7) * 2;
    }
    for (const k of [0, 11, 24]) {
      s.resetStepIndex();
      const t = s.timesteps[k];
      const scaled = s.scaleModelInput(x, t);
      const out = s.step(v, t, x);
      const sg = s.sigmas[k];
      const sn = s.sigmas[k + 1];
      for (let i = 0; i < n; i++) {
        const x0 = v[i] * (-sg / Math.sqrt(sg * sg + 1)) + x[i] / (sg * sg + 1);
        const prev = x[i] + ((x[i] - x0) / sg) * (sn - sg);
        expect(Math.abs(out.predOriginalSample[i] - x0)).toBeLessThanOrEqual(1e-6 * (Math.abs(x0) + Math.abs(x[i]) + 1));
        expect(Math.abs(out.prevSample[i] - prev)).toBeLessThanOrEqual(1e-6 * (Math.abs(prev) + Math.abs(x[i]) + 1));
        expect(scaled[i]).toBe(Math.fround(x[i] / Math.fround(Math.sqrt(Math.fround(Math.fround(sg * sg) + 1)))));
      }
    }
  });

  it('the last step lands on x0 (σ_next = 0)', () => {
    const s = sched(4);
    const x = Float32Array.of(1, 2, 3);
    const out = s.step(Float32Array.of(0.5, -0.5, 0), s.timesteps[3], x);
    for (let i = 0; i < 3; i++) expect(out.prevSample[i]).toBeCloseTo(out.predOriginalSample[i], 5);
  });

  it('keeps tensors as tensors (same dims) and arrays as arrays; checks lengths', () => {
    const s = sched(4);
    const x = float32([1, 2, 1, 1, 2], Float32Array.of(1, 2, 3, 4));
    const scaled = s.scaleModelInput(x, s.timesteps[0]);
    expect(scaled.dims).toEqual([1, 2, 1, 1, 2]);
    const out = s.step(x, s.timesteps[0], x);
    expect(out.prevSample.dims).toEqual([1, 2, 1, 1, 2]);
    expect(out.predOriginalSample.type).toBe('float32');
    expect(x.data).toEqual(Float32Array.of(1, 2, 3, 4)); // inputs untouched
    s.resetStepIndex();
    expect(() => s.step(Float32Array.of(1), s.timesteps[0], Float32Array.of(1, 2))).toThrow('model_output has 1 values but sample has 2');
  });
});
