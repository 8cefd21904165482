// Every golden fixture case whose kind has a registered runner must PASS (../shared/fixtures/README.md).
// Data-driven: a kind starts being checked here as soon as its runner is added to src/parity/registry.ts.
import { describe, expect, it } from 'vitest';
import { isRegisteredKind } from '../../src/parity/registry.ts';
import { formatResult, runCase } from '../../src/parity/run.ts';
import { fixtureCases } from './fixtures-dir.ts';

const cases = fixtureCases();

describe('golden fixtures', () => {
  it('finds the fixture cases', () => {
    expect(cases.length).toBeGreaterThan(0);
  });

  for (const c of cases) {
    const title = `${c.name} (${c.kind})`;
    if (!isRegisteredKind(c.kind)) {
      it.skip(`${title}: no runner registered for this kind yet`, () => {});
      continue;
    }
    it(title, async () => {
      const r = await runCase(c.dir);
      console.log(formatResult(r));
      expect(r.reason).toBeUndefined();
      expect(r.pass).toBe(true);
    });
  }
});
