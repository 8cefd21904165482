// MediaPipe Tasks `.task` bundles built locally from the .tflite files that the npm package
// @mediapipe/holistic@0.5.1675471629 ships (Apache-2.0). The bundles are *modified derivatives*:
// each model gets a TFLite metadata block (input normalisation) and the face mesh model gets one
// appended GATHER op (468 → 478 landmarks; the 10 iris slots are stand-ins). Built at first use into
// the cache dir, checked by sha256 (rebuilt when a cached file does not match).
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { CnextError } from '../../src/core/errors.ts';
import { appendGather, buildModelMetadata, injectMetadata, type Normalization } from './tflite.ts';
import { zipStore } from './zip.ts';

export const HOLISTIC_VERSION = '0.5.1675471629';

export type PoseModel = 'lite' | 'full' | 'heavy';
export type BundleName = `pose_landmarker_${PoseModel}` | 'hand_landmarker' | 'face_landmarker';
export const BUNDLE_NAMES: readonly BundleName[] = [
  'pose_landmarker_lite', 'pose_landmarker_full', 'pose_landmarker_heavy', 'hand_landmarker', 'face_landmarker',
];

/** sha256 of each built bundle (deterministic: fixed zip dates, pinned sources and flatbuffers). */
export const BUNDLE_SHA256: Readonly<Record<BundleName, string>> = {
  pose_landmarker_lite: 'c6ac995c9706d43da7f7f20c057f25df1122bedfbb3a248647b797860a0b4a81',
  pose_landmarker_full: '2e061da59ccbd283d8f74b9d9ae1e2e8b1e79672c82b86567cea13356ad9d771',
  pose_landmarker_heavy: '988cc39b9ea06423d796342ff9e50d57629ef27849794826809df7deed917f0f',
  hand_landmarker: 'e0d02f3c35528f79367b3703e958d83ced2b46cb42d11e1f21b02436d3f0ebfe',
  face_landmarker: '9763b980ddd47af02cd6867d70a47bbfe28a3990423671a7ad3d2187e31bed96',
};

// Input ranges from the legacy *_cpu.pbtxt graphs (agree with the metadata of Google's pose .task).
const RANGE_0_1: Normalization = { mean: [0], std: [255] };
const RANGE_PM1: Normalization = { mean: [127.5], std: [127.5] };

/**
 * The 10 "iris" slots 468..477 that Tasks expects are filled with copies of eyelid / eye-corner
 * landmarks (inside the face, so VIDEO-mode ROI tracking stays stable). Only the 468 are real.
 */
export const IRIS_STAND_INS = [145, 133, 159, 33, 145, 374, 362, 386, 263, 374] as const;

function holisticDir(): string {
  const require = createRequire(import.meta.url);
  let pkg: string;
  try {
    pkg = require.resolve('@mediapipe/holistic/package.json');
  } catch (e) {
    throw missingPackage(`@mediapipe/holistic is not installed`, e);
  }
  const version = (JSON.parse(fs.readFileSync(pkg, 'utf8')) as { version?: string }).version;
  if (version !== HOLISTIC_VERSION) {
    throw missingPackage(`@mediapipe/holistic ${version} is installed, the pose models need exactly ${HOLISTIC_VERSION}`);
  }
  return path.dirname(pkg);
}

function missingPackage(message: string, cause?: unknown): CnextError {
  return new CnextError('MEDIAPIPE_MODELS_MISSING', message, {
    category: 'system',
    solutions: [`npm install @mediapipe/holistic@${HOLISTIC_VERSION}`, 'npm ci (in the controlnext-motion folder)'],
    cause,
  });
}

class HolisticFiles {
  private readonly dir = holisticDir();
  private packed?: { index: Map<string, [number, number]>; data: Buffer };

  file(name: string): Buffer {
    return fs.readFileSync(path.join(this.dir, name));
  }

  /** A member of holistic_solution_packed_assets.data; its loader lists "filename", "start", "end". */
  packedFile(name: string): Buffer {
    if (!this.packed) {
      const loader = fs.readFileSync(path.join(this.dir, 'holistic_solution_packed_assets_loader.js'), 'utf8');
      const index = new Map<string, [number, number]>();
      for (const m of loader.matchAll(/"filename": "([^"]*)", "start": (\d+), "end": (\d+)/g)) {
        index.set(path.posix.basename(m[1]!), [Number(m[2]), Number(m[3])]);
      }
      this.packed = { index, data: fs.readFileSync(path.join(this.dir, 'holistic_solution_packed_assets.data')) };
    }
    const range = this.packed.index.get(name);
    if (!range) throw missingPackage(`${name} is not in @mediapipe/holistic's packed assets`);
    return this.packed.data.subarray(range[0], range[1]);
  }
}

const withMeta = (tflite: Uint8Array, name: string, norm: Normalization) =>
  injectMetadata(tflite, buildModelMetadata(name, norm));

/** Member name (as Tasks looks it up) → bytes. */
function bundleMembers(name: BundleName, src: HolisticFiles): Array<[string, Uint8Array]> {
  const poseDetector = () => withMeta(src.packedFile('pose_detection.tflite'), 'Pose Detection', RANGE_PM1);
  switch (name) {
    case 'pose_landmarker_lite':
    case 'pose_landmarker_full':
    case 'pose_landmarker_heavy': {
      const v = name.slice('pose_landmarker_'.length);
      return [
        ['pose_detector.tflite', poseDetector()],
        ['pose_landmarks_detector.tflite', withMeta(src.file(`pose_landmark_${v}.tflite`), 'Pose Landmark', RANGE_0_1)],
      ];
    }
    case 'hand_landmarker':
      return [
        ['hand_detector.tflite', withMeta(src.packedFile('palm_detection_full.tflite'), 'Palm Detection', RANGE_0_1)],
        ['hand_landmarks_detector.tflite', withMeta(src.packedFile('hand_landmark_full.tflite'), 'Hand Landmark', RANGE_0_1)],
      ];
    case 'face_landmarker': {
      // Output 0 of face_landmark.tflite is [1,1,1,1404] = 468 × (x,y,z); Tasks hard-codes 478 × 3.
      const gather: number[] = [];
      for (let i = 0; i < 1404; i++) gather.push(i);
      for (const l of IRIS_STAND_INS) gather.push(3 * l, 3 * l + 1, 3 * l + 2);
      const mesh = appendGather(src.packedFile('face_landmark.tflite'), 0, gather);
      return [
        ['face_detector.tflite', withMeta(src.packedFile('face_detection_short_range.tflite'), 'Face Detection', RANGE_PM1)],
        ['face_landmarks_detector.tflite', withMeta(mesh, 'Face Landmark', RANGE_0_1)],
      ];
    }
  }
}

/** Builds one bundle in memory (well under a second). */
export function buildBundle(name: BundleName): Buffer {
  return zipStore(bundleMembers(name, new HolisticFiles()));
}

export const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

/** `$CNEXT_CACHE/mediapipe`, default `~/.cache/controlnext-motion/mediapipe`. */
export function bundleCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const root = env.CNEXT_CACHE || path.join(os.homedir(), '.cache', 'controlnext-motion');
  return path.join(root, 'mediapipe');
}

/** Written next to the bundles (Apache-2.0 §4(b): modified files must say that they were changed). */
export const BUNDLE_NOTICE = `MediaPipe model bundles built by controlnext-motion
Source: the .tflite files of the npm package @mediapipe/holistic@${HOLISTIC_VERSION} (Google, Apache-2.0;
the same models were published in google/mediapipe under mediapipe/modules/).
Changes made by controlnext-motion (pose/mediapipe/bundles.ts):
- every model: a TFLite metadata buffer (TFLITE_METADATA) with the input normalisation was added;
- face_landmark.tflite: one GATHER op was appended so the 468-landmark output has the 478-landmark layout
  MediaPipe Tasks expects; landmarks 468-477 (iris) are copies of eye landmarks, not iris estimates;
- the models were packed as MediaPipe Tasks .task (zip) bundles.
Licensed under the Apache License, Version 2.0: https://www.apache.org/licenses/LICENSE-2.0
`;

/** Path of a verified bundle in the cache, building it first when it is missing or does not match its hash. */
export function ensureBundle(name: BundleName, cacheDir = bundleCacheDir()): string {
  const file = path.join(cacheDir, `${name}.task`);
  const expected = BUNDLE_SHA256[name];
  if (fs.existsSync(file) && expected && sha256(fs.readFileSync(file)) === expected) return file;
  const bytes = buildBundle(name);
  const got = sha256(bytes);
  if (expected && got !== expected) {
    throw new CnextError(
      'MEDIAPIPE_BUNDLE_HASH',
      `Built ${name}.task has sha256 ${got}, expected ${expected}: the model sources in @mediapipe/holistic differ from ${HOLISTIC_VERSION}`,
      { category: 'system', solutions: [`npm install @mediapipe/holistic@${HOLISTIC_VERSION}`, 'rm -rf node_modules && npm ci'] },
    );
  }
  try {
    fs.mkdirSync(cacheDir, { recursive: true });
    const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    fs.writeFileSync(tmp, bytes);
    fs.renameSync(tmp, file); // atomic: concurrent builders write identical bytes
    fs.writeFileSync(path.join(cacheDir, 'NOTICE.txt'), BUNDLE_NOTICE);
  } catch (e) {
    throw new CnextError('CACHE_NOT_WRITABLE', `Cannot write ${file}: ${(e as Error).message}`, {
      category: 'system',
      solutions: ['set CNEXT_CACHE to a writable folder'],
      cause: e,
    });
  }
  return file;
}
