// Parity kind `scheduler` (../shared/fixtures/README.md §4.6): for every n in inputs.num_inference_steps, the
// schedule (timesteps, sigmas, init_noise_sigma, scale_model_input factors) to relative `schedule_max_rel`, and
// each step k with the pipeline's pattern `reset index; scale_model_input(x, t); step(v, t, x)` to the case tolerance.
import { CnextError } from '../../core/errors.ts';
import { float32, shapeString, type Tensor } from '../../core/tensor.ts';
import { EulerDiscreteScheduler } from '../../diffusion/scheduler.ts';
import { compareOutputs, fmt } from '../compare.ts';
import type { KindRunner, OutputCheck, ParityCase } from '../types.ts';

function tensor(c: ParityCase, name: string): Tensor<'float32'> {
  const t = c.io.get(name);
  if (!t) throw new CnextError('PARITY_MISSING_TENSOR', `${c.name}: io.safetensors has no tensor ${name}`);
  if (t.type !== 'float32') throw new CnextError('PARITY_CASE_INVALID', `${c.name}: ${name} is ${t.type}, expected float32`);
  return t as Tensor<'float32'>;
}

/** Relative comparison for schedule values: |a − b| ≤ rel·|b| (exact when b = 0). */
function relCheck(name: string, ref: Tensor<'float32'>, got: Float32Array, rel: number): OutputCheck {
  if (got.length !== ref.data.length) {
    return { name, maxAbs: Infinity, meanAbs: Infinity, pass: false, detail: `${got.length} values, expected ${ref.data.length} (shape ${shapeString(ref.dims)})` };
  }
  let maxAbs = 0;
  let sumAbs = 0;
  let maxRel = 0;
  let pass = true;
  for (let i = 0; i < got.length; i++) {
    const d = Math.abs(got[i] - ref.data[i]);
    const r = ref.data[i] === 0 ? (d === 0 ? 0 : Infinity) : d / Math.abs(ref.data[i]);
    if (!(d <= rel * Math.abs(ref.data[i]))) pass = false;
    maxAbs = Math.max(maxAbs, Number.isNaN(d) ? Infinity : d);
    maxRel = Math.max(maxRel, Number.isNaN(r) ? Infinity : r);
    sumAbs += d;
  }
  const detail = pass ? `max_rel=${fmt(maxRel)}` : `max_rel ${fmt(maxRel)} > ${fmt(rel)}`;
  return { name, maxAbs, meanAbs: got.length ? sumAbs / got.length : 0, pass, detail };
}

export const run: KindRunner = async (c) => {
  const steps = c.json.inputs.num_inference_steps;
  if (!Array.isArray(steps) || !steps.length || !steps.every((n) => Number.isInteger(n) && n >= 1)) {
    throw new CnextError('PARITY_CASE_INVALID', `${c.name}: inputs.num_inference_steps must be a list of positive integers, got ${JSON.stringify(steps)}`);
  }
  const rel = c.json.tolerance.schedule_max_rel;
  if (typeof rel !== 'number' || !(rel >= 0)) {
    throw new CnextError('PARITY_CASE_INVALID', `${c.name}: tolerance.schedule_max_rel must be a number, got ${JSON.stringify(rel)}`);
  }
  const sched = EulerDiscreteScheduler.fromConfig(c.json.config);
  const checks: OutputCheck[] = [];
  const produced = new Map<string, Float32Array>();
  for (const n of steps as number[]) {
    sched.setTimesteps(n);
    const p = `out.n${n}`;
    checks.push(relCheck(`${p}.timesteps`, tensor(c, `${p}.timesteps`), sched.timesteps, rel));
    checks.push(relCheck(`${p}.sigmas`, tensor(c, `${p}.sigmas`), sched.sigmas, rel));
    checks.push(relCheck(`${p}.init_noise_sigma`, tensor(c, `${p}.init_noise_sigma`), Float32Array.of(sched.initNoiseSigma), rel));
    const factors = new Float32Array(n);
    for (let k = 0; k < n; k++) {
      const t = sched.timesteps[k];
      sched.resetStepIndex();
      factors[k] = sched.scaleModelInput(Float32Array.of(1), t)[0];
      const sample = tensor(c, `in.n${n}.k${k}.sample`);
      const v = tensor(c, `in.n${n}.k${k}.model_output`);
      sched.resetStepIndex();
      sched.scaleModelInput(sample.data, t);
      const out = sched.step(v.data, t, sample.data);
      produced.set(`${p}.k${k}.prev_sample`, out.prevSample);
      produced.set(`${p}.k${k}.pred_original_sample`, out.predOriginalSample);
    }
    checks.push(relCheck(`${p}.scale_model_input_factor`, tensor(c, `${p}.scale_model_input_factor`), factors, rel));

    // Without the reset, a second window at the same t continues from the index the first one left.
    const expected = c.json.inputs[`n${n}_step_index_after_one_step_without_reset`];
    if (expected !== undefined) {
      const x = float32([1], Float32Array.of(1));
      sched.resetStepIndex();
      sched.scaleModelInput(x, sched.timesteps[0]);
      sched.step(x, sched.timesteps[0], x);
      const got = sched.stepIndex ?? Number.NaN;
      const d = Math.abs(got - Number(expected));
      checks.push({ name: `n${n}_step_index_after_one_step_without_reset`, maxAbs: d, meanAbs: d, pass: d === 0, detail: `got ${got}, expected ${String(expected)}` });
    }
  }
  const listed = new Set((steps as number[]).map(String));
  checks.push(...compareOutputs(c, produced, { select: (name) => listed.has(/^out\.n(\d+)\.k\d+\./.exec(name)?.[1] ?? '') }));
  // Every out.* tensor must have been looked at (a fixture with an n missing from inputs must not pass unchecked).
  const seen = new Set(checks.map((ch) => ch.name));
  for (const name of c.io.keys()) {
    if (name.startsWith('out.') && !seen.has(name)) {
      checks.push({ name, maxAbs: Infinity, meanAbs: Infinity, pass: false, detail: 'not checked (its n is not in inputs.num_inference_steps)' });
    }
  }
  return checks;
};
