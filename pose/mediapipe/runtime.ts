// Runs @mediapipe/tasks-vision 1.1.0 (CPU / XNNPACK wasm) in plain Node: the browser globals the bundle
// and its emscripten glue look for, an importScripts that loads the glue, the telemetry block and the
// fake WebGL2 canvas. One call per thread (each worker_thread has its own globals and wasm instance).
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import vm from 'node:vm';
import type * as Vision from '@mediapipe/tasks-vision';
import { CnextError } from '../../src/core/errors.ts';
import { NodeCanvas, type RgbaImage } from './fake-webgl.ts';
import { blockTelemetry } from './telemetry.ts';

export const TASKS_VISION_VERSION = '1.1.0';

export type VisionModule = typeof Vision;
export type LandmarkerKind = 'pose' | 'hand' | 'face';
export type Landmarker = Vision.PoseLandmarker | Vision.HandLandmarker | Vision.FaceLandmarker;

const require = createRequire(import.meta.url);

/** Lines the wasm writes (glog); kept for error messages instead of going to stderr. */
export const wasmLog: string[] = [];

function installGlobals(): void {
  const g = globalThis as Record<string, unknown>;
  g.self ??= globalThis;
  g.navigator ??= { userAgent: 'node' }; // Node 20 has no navigator
  g.WebGLRenderingContext ??= class {}; // emscripten's getContext wrapper tests `instanceof`
  // The bundle loads wasm/vision_wasm_internal.js with importScripts (worker style). The package is
  // "type": "module", so require() refuses the file: run it with a CommonJS wrapper instead.
  g.importScripts = (url: string) => {
    const file = url.startsWith('file://') ? new URL(url).pathname : url;
    // A `console` parameter shadows the global one: the glue's glog output (print/printErr/dbg) goes to wasmLog.
    const wrapper = `(function (exports, require, module, __filename, __dirname, console) {${fs.readFileSync(file, 'utf8')}\n})`;
    const fn = vm.runInThisContext(wrapper, { filename: file }) as (...a: unknown[]) => void;
    const mod = { exports: {} as unknown };
    fn(mod.exports, require, mod, file, path.dirname(file), quietConsole);
    g.ModuleFactory = mod.exports;
  };
}

const keepLog = (...args: unknown[]) => {
  wasmLog.push(args.map(String).join(' '));
  if (wasmLog.length > 200) wasmLog.shift();
};
const quietConsole = { log: keepLog, info: keepLog, debug: keepLog, warn: keepLog, error: keepLog };

let vision: Promise<{ module: VisionModule; fileset: { wasmLoaderPath: string; wasmBinaryPath: string } }> | undefined;

export function loadVision() {
  vision ??= (async () => {
    installGlobals();
    blockTelemetry();
    // the package's "exports" hide package.json: find it next to the resolved entry point
    const pkgFile = path.join(path.dirname(require.resolve('@mediapipe/tasks-vision')), 'package.json');
    const version = (JSON.parse(fs.readFileSync(pkgFile, 'utf8')) as { version?: string }).version;
    if (version !== TASKS_VISION_VERSION) {
      throw new CnextError('MEDIAPIPE_VERSION', `@mediapipe/tasks-vision ${version} is installed; the Node shim is written for exactly ${TASKS_VISION_VERSION}`, {
        category: 'system',
        solutions: [`npm install @mediapipe/tasks-vision@${TASKS_VISION_VERSION}`],
      });
    }
    const module = (await import('@mediapipe/tasks-vision')) as VisionModule;
    const wasm = path.join(path.dirname(pkgFile), 'wasm');
    return {
      module,
      fileset: { wasmLoaderPath: path.join(wasm, 'vision_wasm_internal.js'), wasmBinaryPath: path.join(wasm, 'vision_wasm_internal.wasm') },
    };
  })();
  return vision;
}

export interface LandmarkerOptions {
  runningMode: 'IMAGE' | 'VIDEO';
  /** numPoses / numHands / numFaces */
  count: number;
  minDetectionConfidence?: number;
  minPresenceConfidence?: number;
  minTrackingConfidence?: number;
}

export async function createLandmarker(kind: LandmarkerKind, bundleFile: string, o: LandmarkerOptions): Promise<Landmarker> {
  const { module, fileset } = await loadVision();
  const baseOptions = { modelAssetBuffer: new Uint8Array(fs.readFileSync(bundleFile)), delegate: 'CPU' as const };
  const common = { baseOptions, runningMode: o.runningMode, canvas: new NodeCanvas() as unknown as HTMLCanvasElement };
  const conf = (prefix: string) => ({
    ...(o.minDetectionConfidence === undefined ? {} : { [`min${prefix}DetectionConfidence`]: o.minDetectionConfidence }),
    ...(o.minPresenceConfidence === undefined ? {} : { [`min${prefix}PresenceConfidence`]: o.minPresenceConfidence }),
    ...(o.minTrackingConfidence === undefined ? {} : { minTrackingConfidence: o.minTrackingConfidence }),
  });
  try {
    switch (kind) {
      case 'pose':
        return await module.PoseLandmarker.createFromOptions(fileset, { ...common, numPoses: o.count, ...conf('Pose') });
      case 'hand':
        return await module.HandLandmarker.createFromOptions(fileset, { ...common, numHands: o.count, ...conf('Hand') });
      case 'face':
        return await module.FaceLandmarker.createFromOptions(fileset, { ...common, numFaces: o.count, ...conf('Face') });
    }
  } catch (e) {
    // MediaPipe appends a C++ "Source Location Trace"; the first part says what is wrong
    const why = String((e as Error)?.message ?? e).split('=== Source Location Trace')[0]!.trim();
    throw new CnextError('MEDIAPIPE_INIT', `Could not start the MediaPipe ${kind} landmarker: ${why}`, {
      category: 'third-party',
      solutions: [`delete ${path.dirname(bundleFile)} to rebuild the model bundles`, `npm install @mediapipe/tasks-vision@${TASKS_VISION_VERSION}`],
      cause: e,
    });
  }
}

/** RGB (3 bytes per pixel) → RGBA, the only layout the fake GL upload accepts. */
export function rgbToRgba(rgb: Uint8Array, width: number, height: number, out?: Uint8Array): Uint8Array {
  const n = width * height;
  if (rgb.length !== 3 * n) throw new Error(`rgbToRgba: expected ${3 * n} bytes for ${width}×${height}, got ${rgb.length}`);
  const rgba = out ?? new Uint8Array(4 * n);
  for (let i = 0, j = 0; i < n; i++, j += 3) {
    const k = 4 * i;
    rgba[k] = rgb[j]!;
    rgba[k + 1] = rgb[j + 1]!;
    rgba[k + 2] = rgb[j + 2]!;
    rgba[k + 3] = 255;
  }
  return rgba;
}

/** The image object detect()/detectForVideo() take (typed as the DOM TexImageSource they declare). */
export function asImageSource(img: RgbaImage): Vision.ImageSource {
  const data = img.data instanceof Uint8ClampedArray ? img.data : new Uint8ClampedArray(img.data.buffer, img.data.byteOffset, img.data.length);
  return { data, width: img.width, height: img.height } as unknown as Vision.ImageSource;
}
