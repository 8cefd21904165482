// The batch runner with a fake job in place of runJob: it "denoises" in steps, checkpointing each step in the job
// folder runJob would use, resumes from it, honours the AbortSignal and writes its output atomically — enough to
// exercise skip-done, failures, ownership, interruption and prefetch quickly. The real runJob is in e2e.test.ts.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { planBatch, type BatchItem } from '../../src/batch/plan.ts';
import { readReport } from '../../src/batch/report.ts';
import { runBatch, type BatchDeps, type RunnableItem } from '../../src/batch/runner.ts';
import { CancelledError, CnextError } from '../../src/core/errors.ts';
import { defaultJobDir } from '../../src/job/folder.ts';
import type { UiEvent } from '../../src/ui/state.ts';
import { tree } from './helpers.ts';

const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) fs.rmSync(r, { recursive: true, force: true });
});

function setup(flags: Record<string, unknown> = {}) {
  const root = tree({ 'in/a.mp4': 'video a', 'in/b.mp4': 'video b', 'in/c.mp4': 'video c', 'me.jpg': 'photo' });
  roots.push(root);
  const outDir = path.join(root, 'out');
  const plan = (f = flags) => planBatch({ dir: path.join(root, 'in'), outDir, ref: path.join(root, 'me.jpg'), preset: 'preview', flags: f, presets: { user: [] } });
  return { root, outDir, plan };
}

interface FakeJob extends BatchDeps {
  readonly log: string[];
}

function fakeJob(o: { fail?: string; onStep?: (it: RunnableItem, step: number) => void; prefetch?: boolean } = {}): FakeJob {
  const log: string[] = [];
  return {
    log,
    async runItem(it, { emit, signal }) {
      const dir = defaultJobDir(it.output);
      fs.mkdirSync(dir, { recursive: true });
      const ckpt = path.join(dir, 'steps.txt');
      let step = fs.existsSync(ckpt) ? Number(fs.readFileSync(ckpt, 'utf8')) : 0;
      log.push(`run ${it.name} from step ${step}`);
      if (it.name === o.fail) throw new CnextError('POSE_NO_PERSON_REF', 'No person found in the reference image');
      const steps = it.options.steps;
      emit({ type: 'stage-start', stage: 'denoise', total: steps });
      for (; step < steps; step++) {
        if (signal.aborted) throw new CancelledError();
        await new Promise((r) => setTimeout(r, 2));
        fs.writeFileSync(ckpt, String(step + 1));
        emit({ type: 'progress', stage: 'denoise', done: step + 1, total: steps, step: step + 1, steps });
        o.onStep?.(it, step + 1);
      }
      const tmp = `${it.output}.partial-${process.pid}.mp4`;
      fs.mkdirSync(path.dirname(it.output), { recursive: true });
      fs.writeFileSync(tmp, `${it.name} ${steps} steps`);
      fs.renameSync(tmp, it.output);
      log.push(`end ${it.name}`);
    },
    ...(o.prefetch
      ? {
          async prefetch(it: RunnableItem) {
            log.push(`prefetch ${it.name}`);
          },
        }
      : {}),
  };
}

const outputs = (outDir: string) => fs.readdirSync(outDir).filter((f) => f.endsWith('.mp4')).sort();

describe('runBatch', () => {
  it('interrupted during the second item, then rerun: three outputs and a report', async () => {
    const { outDir, plan } = setup({ steps: 5 });
    const items = plan({ steps: 5 });
    const ac = new AbortController();
    const events: UiEvent[] = [];
    const first = fakeJob({ onStep: (it, step) => it.name === 'b.mp4' && step === 2 && ac.abort() });
    const r1 = await runBatch(items, first, { outDir, signal: ac.signal, emit: (e) => events.push(e) });
    expect(r1.items.map((i) => i.status)).toEqual(['done', 'cancelled', 'pending']);
    expect(outputs(outDir)).toEqual(['a.mp4']);
    expect(fs.readdirSync(outDir).filter((f) => f.includes('partial'))).toEqual([]);
    expect(events.filter((e) => e.type === 'item-end').map((e) => e.type === 'item-end' && `${e.name} ${e.status}`)).toEqual(['a.mp4 done', 'b.mp4 cancelled']);
    expect(readReport(path.join(outDir, 'report.json'))!.summary).toEqual({ done: 1, skipped: 0, failed: 0, cancelled: 1, pending: 1 });

    const second = fakeJob();
    const r2 = await runBatch(plan({ steps: 5 }), second, { outDir });
    // a skipped (not even called), b resumed from its job folder's step 2 (or 3: the abort lands between steps)
    expect(second.log[0]).toMatch(/^run b\.mp4 from step [23]$/);
    expect(second.log).toEqual([second.log[0], 'end b.mp4', 'run c.mp4 from step 0', 'end c.mp4']);
    expect(r2.items.map((i) => `${i.name} ${i.status}`)).toEqual(['a.mp4 skipped', 'b.mp4 done', 'c.mp4 done']);
    expect(outputs(outDir)).toEqual(['a.mp4', 'b.mp4', 'c.mp4']);
    const report = JSON.parse(fs.readFileSync(path.join(outDir, 'report.json'), 'utf8'));
    expect(report.summary).toEqual({ done: 2, skipped: 1, failed: 0, cancelled: 0, pending: 0 });
    for (const it of report.items) {
      expect(it.key).toMatch(/^[0-9a-f]{64}$/);
      expect(it.bytes).toBe(fs.statSync(it.output).size);
      expect(typeof it.seconds).toBe('number');
    }
  });

  it('a failing item is reported and the batch goes on', async () => {
    const { outDir, plan } = setup();
    const r = await runBatch(plan(), fakeJob({ fail: 'b.mp4' }), { outDir });
    expect(r.items.map((i) => [i.name, i.status, i.error])).toEqual([
      ['a.mp4', 'done', undefined],
      ['b.mp4', 'failed', 'No person found in the reference image'],
      ['c.mp4', 'done', undefined],
    ]);
    // the failed item runs again next time; the others are skipped
    const again = fakeJob();
    await runBatch(plan(), again, { outDir });
    expect(again.log).toEqual(['run b.mp4 from step 0', 'end b.mp4']);
  });

  it('never overwrites a file it did not write', async () => {
    const { outDir, plan } = setup();
    fs.mkdirSync(outDir, { recursive: true });
    fs.writeFileSync(path.join(outDir, 'b.mp4'), 'somebody else’s video');
    const r = await runBatch(plan(), fakeJob(), { outDir });
    expect(r.items.map((i) => i.status)).toEqual(['done', 'failed', 'done']);
    expect(r.items[1]!.error).toBe(`${path.join(outDir, 'b.mp4')} exists and was not written by cnext batch for this item; it is left alone`);
    expect(fs.readFileSync(path.join(outDir, 'b.mp4'), 'utf8')).toBe('somebody else’s video');
  });

  it('changed options or a changed input re-run the item and replace our own output; a deleted output is redone', async () => {
    const { root, outDir, plan } = setup();
    await runBatch(plan({ steps: 2 }), fakeJob(), { outDir });
    const changed = fakeJob();
    const r = await runBatch(plan({ steps: 3 }), changed, { outDir });
    expect(r.items.map((i) => i.status)).toEqual(['done', 'done', 'done']);
    expect(fs.readFileSync(path.join(outDir, 'a.mp4'), 'utf8')).toBe('a.mp4 3 steps');
    fs.writeFileSync(path.join(root, 'in', 'c.mp4'), 'video c, edited');
    fs.rmSync(path.join(outDir, 'a.mp4'));
    const third = fakeJob();
    const r3 = await runBatch(plan({ steps: 3 }), third, { outDir });
    expect(r3.items.map((i) => i.status)).toEqual(['done', 'skipped', 'done']);
  });

  it('a lost report.json: outputs recorded in their job folders are still ours (re-run, not refused)', async () => {
    const { outDir, plan } = setup();
    const items = plan();
    await runBatch(items, fakeJob(), { outDir });
    fs.rmSync(path.join(outDir, 'report.json'));
    // the fake job keeps no job.json, so these outputs look foreign now
    const r = await runBatch(items, fakeJob(), { outDir });
    expect(r.items.map((i) => i.status)).toEqual(['failed', 'failed', 'failed']);
    // a job.json that records the output (as runJob writes it) makes it ours again
    for (const it of items) {
      const st = fs.statSync(it.output);
      fs.writeFileSync(path.join(defaultJobDir(it.output), 'job.json'), JSON.stringify({
        format: 'cnext-job', version: 1, stages: { output: { path: it.output, bytes: st.size, mtimeMs: st.mtimeMs, frames: 1 } },
      }));
    }
    const r2 = await runBatch(items, fakeJob(), { outDir });
    expect(r2.items.map((i) => i.status)).toEqual(['done', 'done', 'done']);
  });

  it('prefetches the next item while the current one runs; not for skipped or broken items', async () => {
    const { outDir, plan } = setup();
    const items: BatchItem[] = plan();
    const job = fakeJob({ prefetch: true });
    await runBatch(items, job, { outDir });
    expect(job.log).toEqual(['run a.mp4 from step 0', 'prefetch b.mp4', 'end a.mp4', 'run b.mp4 from step 0', 'prefetch c.mp4', 'end b.mp4', 'run c.mp4 from step 0', 'end c.mp4']);
    fs.rmSync(items[1]!.output);
    const again = fakeJob({ prefetch: true });
    await runBatch([items[0]!, items[1]!, { ...items[2]!, problem: new CnextError('X', 'broken') }], again, { outDir });
    // (b's job folder still holds all its steps: it only re-encodes, as runJob would)
    expect(again.log).toEqual(['run b.mp4 from step 8', 'end b.mp4']);
  });
});
