// EulerDiscreteScheduler as ControlNeXt-SVD-v2 uses it (utils/scheduling_euler_discrete_karras_fix.py, identical to
// diffusers v0.30.3 schedulers/scheduling_euler_discrete.py for the SVD config): Karras sigmas between the config's
// sigma_min and sigma_max, continuous timesteps 0.25·ln σ, v-prediction, s_churn = 0.
// Behaviour: ../shared/fixtures/README.md §5.6 and §4.6. float32 semantics: the schedule is computed in float64 and
// rounded once to float32 (numpy → torch.float32); every later operation is a float32 torch op, so each one is
// rounded with Math.fround in the order torch evaluates it.
import { CnextError } from '../core/errors.ts';
import { invalidParameterError } from '../core/is.ts';
import type { Float32Tensor } from '../core/tensor.ts';

/** The `scheduler_config.json` keys this implementation reads (snake_case, as on disk). */
export interface EulerDiscreteSchedulerConfig {
  readonly prediction_type: 'v_prediction';
  readonly use_karras_sigmas: true;
  readonly timestep_type: 'continuous';
  readonly sigma_min: number;
  readonly sigma_max: number;
  readonly timestep_spacing: 'linspace' | 'leading' | 'trailing';
  readonly [extra: string]: unknown;
}

export interface SchedulerStepOutput<T> {
  readonly prevSample: T;
  readonly predOriginalSample: T;
}

/** Karras et al. (2022) ρ, as in k-diffusion and diffusers. */
const RHO = 7;

const f = Math.fround;

function unsupported(key: string, value: unknown, expected: string): CnextError {
  return new CnextError(
    'SCHEDULER_UNSUPPORTED',
    `scheduler_config.json: ${key} ${JSON.stringify(value)} is not supported (expected ${expected}); ` +
      'only the SVD EulerDiscreteScheduler with Karras sigmas, v-prediction and continuous timesteps is implemented',
  );
}

/** Checks the fields we rely on and rejects every setting that would make upstream compute something else. */
export function parseSchedulerConfig(raw: unknown): EulerDiscreteSchedulerConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new CnextError('SCHEDULER_UNSUPPORTED', `scheduler_config.json is not a JSON object (got ${JSON.stringify(raw)})`);
  }
  const c = raw as Record<string, unknown>;
  if (c._class_name !== undefined && c._class_name !== 'EulerDiscreteScheduler') {
    throw unsupported('_class_name', c._class_name, '"EulerDiscreteScheduler"');
  }
  if (c.prediction_type !== 'v_prediction') throw unsupported('prediction_type', c.prediction_type, '"v_prediction"');
  if (c.use_karras_sigmas !== true) throw unsupported('use_karras_sigmas', c.use_karras_sigmas, 'true');
  if (c.timestep_type !== 'continuous') throw unsupported('timestep_type', c.timestep_type, '"continuous"');
  // Without sigma_min/sigma_max upstream takes the bounds from the beta schedule; we do not implement that.
  for (const key of ['sigma_min', 'sigma_max'] as const) {
    const v = c[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw unsupported(key, v, 'a positive number');
  }
  if ((c.sigma_min as number) >= (c.sigma_max as number)) {
    throw unsupported('sigma_min', c.sigma_min, `a value below sigma_max ${String(c.sigma_max)}`);
  }
  const spacing = c.timestep_spacing ?? 'linspace';
  if (spacing !== 'linspace' && spacing !== 'leading' && spacing !== 'trailing') {
    throw unsupported('timestep_spacing', spacing, '"linspace", "leading" or "trailing"');
  }
  const interp = c.interpolation_type ?? 'linear';
  if (interp !== 'linear' && interp !== 'log_linear') throw unsupported('interpolation_type', interp, '"linear" or "log_linear"');
  if (c.final_sigmas_type !== undefined && c.final_sigmas_type !== 'zero') {
    throw unsupported('final_sigmas_type', c.final_sigmas_type, '"zero"');
  }
  for (const key of ['use_exponential_sigmas', 'use_beta_sigmas'] as const) {
    if (c[key] !== undefined && c[key] !== false) throw unsupported(key, c[key], 'false');
  }
  return { ...c, timestep_spacing: spacing } as EulerDiscreteSchedulerConfig;
}

/** numpy.linspace(0, 1, n): i·(1/(n−1)), last element exactly 1; [0] for n = 1. */
function ramp(n: number): Float64Array {
  const r = new Float64Array(n);
  if (n === 1) return r;
  const step = 1 / (n - 1);
  for (let i = 0; i < n; i++) r[i] = i * step;
  if (n > 1) r[n - 1] = 1;
  return r;
}

type Samples = Float32Array | Float32Tensor;

function dataOf(x: Samples, what: string): Float32Array {
  const d = x instanceof Float32Array ? x : x.data;
  if (!(d instanceof Float32Array)) throw invalidParameterError(what, 'float32 data', d);
  return d;
}

function like<T extends Samples>(x: T, data: Float32Array): T {
  return (x instanceof Float32Array ? data : { type: 'float32', dims: [...x.dims], data }) as T;
}

export class EulerDiscreteScheduler {
  readonly config: EulerDiscreteSchedulerConfig;
  /** float32 [n]: 0.25·ln σ_i (continuous; negative near the end). */
  timesteps: Float32Array = new Float32Array(0);
  /** float32 [n+1]: Karras sigmas, last = 0. */
  sigmas: Float32Array = new Float32Array(0);
  numInferenceSteps: number | null = null;
  private stepIdx: number | null = null;

  constructor(config: unknown) {
    this.config = parseSchedulerConfig(config);
  }

  static fromConfig(config: unknown): EulerDiscreteScheduler {
    return new EulerDiscreteScheduler(config);
  }

  /** The internal step index (null until the first scaleModelInput/step after a reset). */
  get stepIndex(): number | null {
    return this.stepIdx;
  }

  /** Standard deviation of the initial noise: max σ (linspace/trailing) or √(max σ² + 1) (leading), in float32. */
  get initNoiseSigma(): number {
    this.requireTimesteps();
    let m = this.sigmas[0];
    for (const s of this.sigmas) if (s > m) m = s;
    if (this.config.timestep_spacing !== 'leading') return m;
    return f(Math.sqrt(f(f(m * m) + 1)));
  }

  /** set_timesteps(n): σ_i = (σmax^(1/ρ) + r_i·(σmin^(1/ρ) − σmax^(1/ρ)))^ρ in float64 → float32; resets the index. */
  setTimesteps(numInferenceSteps: number): void {
    const n = numInferenceSteps;
    if (!Number.isInteger(n) || n < 1) throw invalidParameterError('num_inference_steps', 'integer of at least 1', n);
    const minInvRho = this.config.sigma_min ** (1 / RHO);
    const maxInvRho = this.config.sigma_max ** (1 / RHO);
    const r = ramp(n);
    const sigmas = new Float32Array(n + 1); // last stays 0
    const timesteps = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      sigmas[i] = (maxInvRho + r[i] * (minInvRho - maxInvRho)) ** RHO;
      timesteps[i] = 0.25 * f(Math.log(sigmas[i])); // torch: 0.25 * sigma.log() on a float32 scalar
    }
    this.sigmas = sigmas;
    this.timesteps = timesteps;
    this.numInferenceSteps = n;
    this.stepIdx = null;
  }

  /** `_step_index = None`: the pipeline does this before every window so each window steps σ_k → σ_{k+1}. */
  resetStepIndex(): void {
    this.stepIdx = null;
  }

  /** Position of t in `timesteps` — the second occurrence if t occurs twice (upstream _init_step_index). */
  indexForTimestep(t: number): number {
    this.requireTimesteps();
    const t32 = f(t);
    const hits: number[] = [];
    for (let i = 0; i < this.timesteps.length && hits.length < 2; i++) if (this.timesteps[i] === t32) hits.push(i);
    if (!hits.length) {
      throw new CnextError('SCHEDULER_TIMESTEP', `timestep ${t} is not one of the scheduler's ${this.timesteps.length} timesteps`);
    }
    return hits.length > 1 ? hits[1] : hits[0];
  }

  private requireTimesteps(): void {
    if (this.numInferenceSteps === null) {
      throw new CnextError('SCHEDULER_STATE', 'the scheduler has no timesteps yet: call setTimesteps(n) first');
    }
  }

  private currentIndex(t: number): number {
    if (this.stepIdx === null) this.stepIdx = this.indexForTimestep(t);
    return this.stepIdx;
  }

  /** √(σ² + 1) in float32, the divisor of scale_model_input. */
  private static inputScale(sigma: number): number {
    return f(Math.sqrt(f(f(sigma * sigma) + 1)));
  }

  /** sample / √(σ_k² + 1), elementwise float32 division (σ_k from the step index, looked up from t if unset). */
  scaleModelInput<T extends Samples>(sample: T, t: number): T {
    const sigma = this.sigmas[this.currentIndex(t)];
    const d = EulerDiscreteScheduler.inputScale(sigma);
    const x = dataOf(sample, 'sample');
    const out = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) out[i] = x[i] / d;
    return like(sample, out);
  }

  /**
   * One Euler step (v-prediction, s_churn 0): x0 = v·(−σ/√(σ²+1)) + x/(σ²+1); d = (x − x0)/σ; prev = x + d·(σ_next − σ).
   * Increments the step index.
   */
  step<T extends Samples>(modelOutput: T, t: number, sample: T): SchedulerStepOutput<T> {
    const idx = this.currentIndex(t);
    if (idx + 1 >= this.sigmas.length) {
      throw new CnextError('SCHEDULER_STATE', `step index ${idx} is past the last of ${this.timesteps.length} steps (reset the index before every window)`);
    }
    const v = dataOf(modelOutput, 'model_output');
    const x = dataOf(sample, 'sample');
    if (v.length !== x.length) {
      throw new CnextError('SCHEDULER_SHAPE', `model_output has ${v.length} values but sample has ${x.length}`);
    }
    const sigma = this.sigmas[idx]; // sigma_hat = sigma·(gamma + 1) = sigma, gamma = 0
    const cOut = f(-sigma / EulerDiscreteScheduler.inputScale(sigma));
    const cSkipDen = f(f(sigma * sigma) + 1);
    const dt = f(this.sigmas[idx + 1] - sigma);
    const x0 = new Float32Array(x.length);
    const prev = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) {
      const p = f(f(v[i] * cOut) + f(x[i] / cSkipDen));
      x0[i] = p;
      const deriv = f(f(x[i] - p) / sigma);
      prev[i] = x[i] + f(deriv * dt);
    }
    this.stepIdx = idx + 1;
    return { prevSample: like(sample, prev), predOriginalSample: like(sample, x0) };
  }
}
