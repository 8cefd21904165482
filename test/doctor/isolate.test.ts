// The doctor's child-process isolation, with children that crash, fail, hang or die before reporting.
import { describe, expect, it } from 'vitest';
import { MARK, runIsolatedChecks, type ChildCommand } from '../../src/doctor/isolate.ts';

/** A node child that runs `names` with per-name behaviour: ok | error | segv | hang | exit. */
function fakeChild(behaviour: Record<string, string>, spawned: string[][]) {
  return (names: readonly string[]): ChildCommand => {
    spawned.push([...names]);
    const script = `
      const MARK = ${JSON.stringify(MARK)};
      const say = (e) => process.stdout.write(MARK + JSON.stringify(e) + '\\n');
      const behaviour = ${JSON.stringify(behaviour)};
      for (const name of ${JSON.stringify(names)}) {
        const b = behaviour[name] ?? 'ok';
        if (b === 'exit') { process.stderr.write('cannot load the provider\\n'); process.exit(3); }
        say({ name, event: 'start' });
        if (b === 'segv') { process.stderr.write('about to crash\\n'); process.kill(process.pid, 'SIGSEGV'); }
        if (b === 'hang') { setInterval(() => {}, 1000); break; }
        if (b === 'error') say({ name, event: 'error', seconds: 0.01, message: 'Cannot create the UNet session: bad graph' });
        else say({ name, event: 'ok', seconds: 0.02 });
      }`;
    return { command: process.execPath, args: ['-e', script] };
  };
}

describe('runIsolatedChecks', () => {
  it('a child killed by SIGSEGV is reported as a crash of the network it was running; the rest run in a fresh child', async () => {
    const spawned: string[][] = [];
    const seen: string[] = [];
    const results = await runIsolatedChecks(['clip', 'vae', 'unet'], fakeChild({ vae: 'segv' }, spawned), {
      timeoutMs: 60_000,
      onResult: (r) => seen.push(`${r.name}:${r.status}`),
    });
    expect(results.map((r) => [r.name, r.status])).toEqual([['clip', 'ok'], ['vae', 'crash'], ['unet', 'ok']]);
    expect(results[1].signal).toBe('SIGSEGV');
    expect(results[1].message).toBe('the process was killed by SIGSEGV; last stderr: about to crash');
    expect(spawned).toEqual([['clip', 'vae', 'unet'], ['unet']]);
    expect(seen).toEqual(['clip:ok', 'vae:crash', 'unet:ok']);
    expect(process.pid).toBeGreaterThan(0); // still here
  });

  it('an error inside a check is an error, and the same child goes on', async () => {
    const spawned: string[][] = [];
    const results = await runIsolatedChecks(['a', 'b'], fakeChild({ a: 'error' }, spawned), { timeoutMs: 60_000 });
    expect(results).toEqual([
      { name: 'a', status: 'error', seconds: 0.01, message: 'Cannot create the UNet session: bad graph' },
      { name: 'b', status: 'ok', seconds: 0.02 },
    ]);
    expect(spawned).toHaveLength(1);
  });

  it('a child that dies before starting a check reports that check as an error with its exit status', async () => {
    const spawned: string[][] = [];
    const results = await runIsolatedChecks(['a', 'b'], fakeChild({ a: 'exit' }, spawned), { timeoutMs: 60_000 });
    expect(results[0]).toEqual({ name: 'a', status: 'error', message: 'the process exited with status 3; last stderr: cannot load the provider' });
    expect(results[1].status).toBe('ok');
  });

  it('a hanging check is killed at the limit and reported as a timeout', async () => {
    const results = await runIsolatedChecks(['a', 'b'], fakeChild({ a: 'hang' }, []), { timeoutMs: 1500 });
    expect(results[0].status).toBe('timeout');
    expect(results[0].message).toMatch(/^no result within 2 s \(the child was killed\)/);
    expect(results[1].status).toBe('ok');
  });
});
