// `cnext parity`: case discovery, PASS/FAIL lines, exit status, --json, and failures for corrupted, unknown-kind
// and incomplete cases (copies of the real scheduler / svd_image_preprocess fixtures in a temp folder).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { parityCommand } from '../../src/cli/parity.ts';
import { main } from '../../src/cli/main.ts';
import { findCaseDirs } from '../../src/parity/case.ts';
import { runCase, runParity } from '../../src/parity/run.ts';
import { readEntryBytes, readSafetensorsHeader, writeSafetensors, type TensorToWrite } from '../../src/weights/safetensors.ts';
import { fixturesDir } from './fixtures-dir.ts';

const FIX = fixturesDir();
const SCHED = path.join(FIX, 'scheduler');
const PRE = path.join(FIX, 'svd_image_preprocess');
const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'cnext-parity-'));
afterAll(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));

let n = 0;
/** Copies a case folder (files made writable) to a fresh temp folder; returns the copy's path. */
function copyCase(src: string, name = path.basename(src), parent = path.join(tmpRoot, `t${n++}`)): string {
  const dst = path.join(parent, name);
  fs.mkdirSync(dst, { recursive: true });
  for (const f of fs.readdirSync(src)) {
    fs.copyFileSync(path.join(src, f), path.join(dst, f));
    fs.chmodSync(path.join(dst, f), 0o644);
  }
  return dst;
}

/** Rewrites io.safetensors of a case with `edit` applied to the float32 values of tensor `name`. */
function perturb(dir: string, name: string, edit: (v: Float32Array) => void): void {
  const file = path.join(dir, 'io.safetensors');
  const tensors = new Map<string, TensorToWrite>();
  for (const e of readSafetensorsHeader(file).entries) {
    const bytes = new Uint8Array(readEntryBytes(e));
    if (e.name === name) {
      expect(e.dtype).toBe('F32');
      edit(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4));
    }
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data: bytes });
  }
  expect(tensors.has(name)).toBe(true);
  writeSafetensors(`${file}.new`, tensors);
  fs.renameSync(`${file}.new`, file);
}

function editJson(dir: string, edit: (j: Record<string, unknown>) => void): void {
  const file = path.join(dir, 'case.json');
  const j = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  edit(j);
  fs.writeFileSync(file, JSON.stringify(j));
}

/** parityCommand with captured output. */
async function cmd(dirs: string[], json = false): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await parityCommand(dirs, { json }, { stdout: (s) => { out += s; }, stderr: (s) => { err += s; } });
  return { code, out, err };
}

const PASS_LINE = /^PASS (\S+) max_abs=(\S+) mean_abs=(\S+)$/;

describe('cnext parity', () => {
  afterEach(() => {
    process.exitCode = undefined;
  });

  it('passes the scheduler and svd_image_preprocess fixtures, one line per case, exit 0', async () => {
    const { code, out } = await cmd([SCHED, PRE]);
    const lines = out.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(PASS_LINE);
    expect(lines[0].startsWith('PASS scheduler ')).toBe(true);
    expect(lines[1].startsWith('PASS svd_image_preprocess ')).toBe(true);
    expect(lines[2]).toBe('2 passed, 0 failed');
    expect(code).toBe(0);
  });

  it('runs through the CLI entry (main) and sets the exit status', async () => {
    const bad = copyCase(SCHED, 'bad_kind');
    editJson(bad, (j) => { j.kind = 'no_such_kind'; });
    const write = process.stdout.write;
    let out = '';
    process.stdout.write = ((s: string) => { out += s; return true; }) as typeof process.stdout.write;
    try {
      expect(await main(['parity', SCHED])).toBe(0);
      expect(out).toMatch(/^PASS scheduler /m);
      process.exitCode = undefined;
      expect(await main(['parity', SCHED, bad])).toBe(1);
    } finally {
      process.stdout.write = write;
    }
    expect(out).toMatch(/^FAIL bad_kind unknown kind "no_such_kind" \(registered: .*scheduler.*\)$/m);
    expect(out).toMatch(/^1 passed, 1 failed$/m);
  });

  it('fails a case whose reference output was perturbed, naming the output', async () => {
    const dir = copyCase(SCHED);
    perturb(dir, 'out.n10.k3.prev_sample', (v) => { v[7] += 0.01; });
    const { code, out } = await cmd([dir]);
    expect(code).toBe(1);
    const [line, summary] = out.trim().split('\n');
    expect(line).toMatch(/^FAIL scheduler 1 of \d+ outputs over tolerance: out\.n10\.k3\.prev_sample: max_abs 0\.01 > 0\.00204/);
    expect(summary).toBe('0 passed, 1 failed');
  });

  it('fails on a mean_abs excess too (svd_image_preprocess, every value shifted by 1e-4)', async () => {
    const dir = copyCase(PRE);
    perturb(dir, 'out.pixel_values', (v) => { for (let i = 0; i < v.length; i++) v[i] += 1e-4; });
    const r = await runCase(dir);
    expect(r.pass).toBe(false);
    expect(r.reason).toMatch(/out\.pixel_values: mean_abs (9\.\d+e-5|1(\.\d+)?e-4) > 8\.45e-6/);
    expect(r.reason).not.toMatch(/max_abs/); // 1e-4 + 2e-5 stays under max_abs 2.59e-4
  });

  it('fails a perturbed schedule (relative bound), not only step outputs', async () => {
    const dir = copyCase(SCHED);
    perturb(dir, 'out.n4.sigmas', (v) => { v[1] *= 1 + 1e-5; });
    const r = await runCase(dir);
    expect(r.pass).toBe(false);
    expect(r.reason).toMatch(/out\.n4\.sigmas: max_rel 9\.9\de-6 > 2e-6/);
  });

  it('reads the step counts from case.json: an out.* tensor for an n not listed is a failure', async () => {
    const dir = copyCase(SCHED);
    editJson(dir, (j) => { (j.inputs as Record<string, unknown>).num_inference_steps = [25, 4]; });
    const r = await runCase(dir);
    expect(r.pass).toBe(false);
    expect(r.reason).toMatch(/out\.n10\.\S+: not checked/);
    expect(r.outputs.some((o) => o.name === 'out.n25.k24.prev_sample' && o.pass)).toBe(true);
  });

  it('fails unknown kinds, missing files and broken case.json without stopping the other cases', async () => {
    const parent = path.join(tmpRoot, 'mixed');
    const unknown = copyCase(SCHED, 'a_unknown', parent);
    editJson(unknown, (j) => { j.kind = 'warp_drive'; });
    const noIo = copyCase(SCHED, 'b_no_io', parent);
    fs.rmSync(path.join(noIo, 'io.safetensors'));
    const badJson = copyCase(SCHED, 'c_bad_json', parent);
    fs.writeFileSync(path.join(badJson, 'case.json'), '{"kind": ');
    const noTol = copyCase(SCHED, 'd_no_tolerance', parent);
    editJson(noTol, (j) => { delete j.tolerance; });
    copyCase(SCHED, 'e_good', parent);
    const { code, out } = await cmd([parent]);
    const lines = out.trim().split('\n');
    expect(code).toBe(1);
    expect(lines[0]).toMatch(/^FAIL a_unknown unknown kind "warp_drive"/);
    expect(lines[1]).toBe(`FAIL b_no_io missing file ${path.join(noIo, 'io.safetensors')}`);
    expect(lines[2]).toMatch(/^FAIL c_bad_json error: case\.json is not valid JSON/);
    expect(lines[3]).toMatch(/^FAIL d_no_tolerance error: case\.json "tolerance" needs non-negative numbers/);
    expect(lines[4]).toMatch(/^PASS e_good /);
    expect(lines[5]).toBe('1 passed, 4 failed');
  });

  it('reports a runner that throws as FAIL with the error', async () => {
    const dir = copyCase(SCHED);
    editJson(dir, (j) => { (j.config as Record<string, unknown>).prediction_type = 'epsilon'; });
    const r = await runCase(dir);
    expect(r.pass).toBe(false);
    expect(r.reason).toMatch(/^error: scheduler_config\.json: prediction_type "epsilon" is not supported/);
  });

  it('a runner that compares nothing fails', async () => {
    const r = await runCase(SCHED, { kinds: { scheduler: async () => ({ run: async () => [] }) } });
    expect(r.pass).toBe(false);
    expect(r.reason).toBe('the scheduler runner compared nothing');
  });

  it('parent-folder mode: runs the case sub-folders one level down, sorted, and skips other folders', async () => {
    const parent = path.join(tmpRoot, 'parent');
    copyCase(SCHED, 'z_sched', parent);
    copyCase(PRE, 'a_pre', parent);
    fs.mkdirSync(path.join(parent, 'm_not_a_case', 'deeper'), { recursive: true });
    copyCase(SCHED, 'nested', path.join(parent, 'm_not_a_case', 'deeper'));
    expect(findCaseDirs([parent]).map((d) => path.basename(d))).toEqual(['a_pre', 'z_sched']);
    const s = await runParity([parent]);
    expect(s.results.map((r) => `${r.case} ${r.pass}`)).toEqual(['a_pre true', 'z_sched true']);
    expect([s.passed, s.failed]).toEqual([2, 0]);
  });

  it('the fixture root itself is a parent folder', () => {
    const names = findCaseDirs([FIX]).map((d) => path.basename(d));
    expect(names).toContain('scheduler');
    expect(names).toEqual([...names].sort());
  });

  it('rejects a folder that is neither a case nor holds cases, and a missing path', () => {
    const empty = path.join(tmpRoot, 'empty');
    fs.mkdirSync(empty, { recursive: true });
    expect(() => findCaseDirs([empty])).toThrow(`${empty} has no case.json and no sub-folder with one`);
    expect(() => findCaseDirs([path.join(tmpRoot, 'nope')])).toThrow(`${path.join(tmpRoot, 'nope')} does not exist`);
  });

  it('--json prints one object per case with per-output numbers; the summary goes to stderr', async () => {
    const bad = copyCase(PRE, 'bad_pre');
    perturb(bad, 'out.pixel_values', (v) => { v[0] = Number.NaN; });
    const { code, out, err } = await cmd([SCHED, bad], true);
    expect(code).toBe(1);
    const objs = out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(objs).toHaveLength(2);
    expect(objs[0]).toMatchObject({ case: 'scheduler', kind: 'scheduler', status: 'PASS' });
    expect(typeof objs[0].max_abs).toBe('number');
    expect(objs[1]).toMatchObject({ case: 'bad_pre', status: 'FAIL', max_abs: null });
    const outputs = objs[1].outputs as Array<Record<string, unknown>>;
    expect(outputs.find((o) => o.name === 'out.pixel_values')).toMatchObject({ pass: false, max_abs: null });
    expect(err).toBe('1 passed, 1 failed\n');
  });
});
