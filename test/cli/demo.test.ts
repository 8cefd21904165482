// `cnext demo`: the whole pipeline on samples/ with the tiny synthetic model made on first use (the slowest test).
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DEMO_OPTIONS, demoModelsDir, NOTICE, runDemo } from '../../src/cli/demo.ts';
import { ffprobeJson } from '../video/helpers.ts';
import { tempDir } from '../job/helpers.ts';

let dir: string;
beforeAll(() => {
  dir = tempDir('cnext-demo-');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const sink = () => {
  const s = Object.assign(new PassThrough(), { isTTY: false }) as unknown as NodeJS.WriteStream & PassThrough;
  let text = '';
  s.on('data', (d) => (text += d));
  return { s, text: () => text };
};

it('makes its model once, writes the three videos and says the weights are synthetic', async () => {
  expect(DEMO_OPTIONS.size).toBe('192x320');
  const env = { CNEXT_CACHE: path.join(dir, 'cache') };
  const out = sink();
  const t0 = performance.now();
  const r = await runDemo({ outDir: path.join(dir, 'out') }, { env, stdout: out.s, stderr: out.s });
  const seconds = (performance.now() - t0) / 1000;
  expect(r).not.toBeNull();
  expect(fs.existsSync(path.join(demoModelsDir(env), '.cnext-demo.json'))).toBe(true);
  const text = out.text();
  expect(text.startsWith(`${NOTICE}\nCreating the demo's tiny synthetic model in ${demoModelsDir(env)} (first run only)\n`)).toBe(true);
  expect(text).toContain('HF_TOKEN=hf_... cnext models pull svd-xt-1-1 controlnext-svd-v2');
  expect(text).toMatch(/denoise: done in/);
  for (const f of ['demo.mp4', 'demo-pose.mp4', 'demo-side-by-side.mp4']) {
    const p = ffprobeJson(['-count_frames', '-show_entries', 'stream=r_frame_rate,nb_read_frames,height', path.join(dir, 'out', f)]);
    expect(p.streams[0], f).toMatchObject({ r_frame_rate: '10/1', nb_read_frames: '14', height: 320 }); // 30 fps ÷ 3
  }
  const tags = ffprobeJson(['-show_entries', 'format_tags', path.join(dir, 'out', 'demo.mp4')]).format!.tags!;
  expect(tags.description).toBe('cnext demo: made with untrained synthetic weights');
  console.log(`demo: ${seconds.toFixed(1)} s`); // 37–60 s on the shared 2-core machine

  // Second run: the model is not made again and the job is up to date.
  const again = sink();
  const r2 = await runDemo({ outDir: path.join(dir, 'out') }, { env, stdout: again.s, stderr: again.s });
  expect(r2!.reused.upToDate).toBe(true);
  expect(again.text()).not.toContain('Creating the demo');
  expect(again.text()).toContain('is up to date');
}, 100_000); // the demo's promise: well under 2 minutes on 2 cores
