// The four dwpose_* golden fixtures (../shared/fixtures/README.md §7) through the parity runner: every stage around
// the two networks bit-exact with ControlNeXt's dwpose/ (OpenCV 4.6, numpy 1.24).
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatResult, runCase } from '../../../src/parity/run.ts';
import { fixturesDir } from '../../parity/fixtures-dir.ts';

const CASES = ['dwpose_det_preprocess', 'dwpose_det_postprocess', 'dwpose_pose_preprocess', 'dwpose_pose_postprocess'];

describe('dwpose fixtures', () => {
  for (const name of CASES) {
    it(name, async () => {
      const r = await runCase(path.join(fixturesDir(), name));
      expect(r.reason, formatResult(r)).toBeUndefined();
      expect(r.pass).toBe(true);
      expect(r.maxAbs).toBe(0); // everything lands exactly on the reference, not just inside the tolerance
    });
  }
});
