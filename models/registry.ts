// What the tool needs on disk, where each file comes from, and what is known about it.
//
// Rules for entries:
// - `bytes` and `sha256` are filled in only where they were checked against the hub's own listing. Where they are
//   not known the field is absent and `unknown` says so; the downloader then takes the size and (for Git LFS files)
//   the sha256 the hub reports in `X-Linked-Size` / `X-Linked-Etag` at pull time, verifies against those, and
//   records them in the model folder's manifest (models/cache.ts) so that `cnext models verify` can check later.
// - `path` is where the file lives inside the model folder, which mirrors the hub's layout (a diffusers folder for
//   SVD); `remote` is the path inside the hub repository when it differs (ControlNeXt's weights sit in a subfolder).

export type ModelRole = 'svd' | 'controlnext' | 'mediapipe' | 'dwpose';

export interface ModelFile {
  /** Relative path inside the model folder (forward slashes). */
  readonly path: string;
  /** Path inside the hub repository, when it differs from `path`. */
  readonly remote?: string;
  /** Size in bytes, when known. */
  readonly bytes?: number;
  /** Lower-case hex sha256, when known. */
  readonly sha256?: string;
  /** Optional files are pulled only with `--all-files`. */
  readonly optional?: boolean;
  readonly note?: string;
}

export type ModelSource =
  | {
      readonly kind: 'hf';
      /** `owner/name` on the Hugging Face hub (or on `HF_ENDPOINT`). */
      readonly repo: string;
      /** Branch or commit; the commit actually served is recorded in the manifest (`X-Repo-Commit`). */
      readonly revision: string;
      /** Gated repos need the licence accepted on the model page and `HF_TOKEN` set. */
      readonly gated: boolean;
    }
  | {
      readonly kind: 'local-build';
      /** What the files are built from (an npm package), never downloaded. */
      readonly from: string;
      readonly builder: string;
    };

export interface Licence {
  readonly name: string;
  readonly url: string;
  readonly note?: string;
}

export interface ModelEntry {
  /** Folder name under the models root and the CLI name (`cnext models pull NAME`). */
  readonly name: string;
  readonly title: string;
  readonly role: ModelRole;
  readonly source: ModelSource;
  readonly licence: Licence;
  readonly files: readonly ModelFile[];
  /** Set on alternative sources of the same weights: the entry this one can replace. */
  readonly alternativeTo?: string;
  /** Where the files live when not in `<models root>/<name>` (models/layout.ts modelDir). */
  readonly location?: 'mediapipe-cache';
  /** Facts that could not be checked, stated plainly. */
  readonly unknown?: readonly string[];
  readonly notes?: readonly string[];
}

const SVD_REPO = 'stabilityai/stable-video-diffusion-img2vid-xt-1-1';

export const REGISTRY: readonly ModelEntry[] = [
  {
    name: 'svd-xt-1-1',
    title: 'Stable Video Diffusion img2vid-xt 1.1 (diffusers folder, fp16 variant)',
    role: 'svd',
    source: { kind: 'hf', repo: SVD_REPO, revision: 'main', gated: true },
    licence: {
      name: 'Stability AI Community License',
      url: `https://huggingface.co/${SVD_REPO}`,
      note:
        'Gated: accept the licence on the model page first. SVD 1.1 was first published (2024-02) under the Stability AI ' +
        'Non-Commercial Research Community License; the licence file in the repository (not checked here) is authoritative.',
    },
    files: [
      { path: 'model_index.json' },
      { path: 'scheduler/scheduler_config.json' },
      { path: 'feature_extractor/preprocessor_config.json' },
      { path: 'image_encoder/config.json' },
      { path: 'image_encoder/model.fp16.safetensors', bytes: 1_264_217_240 },
      { path: 'unet/config.json' },
      {
        path: 'unet/diffusion_pytorch_model.fp16.safetensors',
        bytes: 3_049_435_836,
        optional: true,
        note:
          'The plain SVD UNet. ControlNeXt-SVD-v2 ships a full fine-tuned UNet (controlnext-svd-v2/unet.bin) that replaces ' +
          'it, so it is pulled only with --all-files; unet/config.json is still needed.',
      },
      { path: 'vae/config.json' },
      { path: 'vae/diffusion_pytorch_model.fp16.safetensors', bytes: 195_531_910 },
    ],
    unknown: [
      'sha256 of every file (the hub reports it for the weight files in X-Linked-Etag at pull time; it is checked then and recorded)',
      'bytes of the JSON files (small, served from git; recorded at pull time)',
      'the commit `main` points at (recorded at pull time)',
    ],
    notes: [
      'Sizes of the three fp16 weight files: from a public MimicMotion setup script (PowerShell, found by code search) that ' +
        'asserts these exact lengths for the same resolve URLs; not checked against the hub from here. The same script lists ' +
        'the JSON files at 685 (image_encoder), 984 (unet), 607 (vae), 533 (scheduler) and 518 (feature_extractor) bytes; ' +
        'those are not pinned because `main` may change them.',
    ],
  },
  {
    name: 'controlnext-svd-v2',
    title: 'ControlNeXt-SVD-v2: fine-tuned SVD UNet and the ControlNeXt control branch (PyTorch zip .bin)',
    role: 'controlnext',
    source: { kind: 'hf', repo: 'Pbihao/ControlNeXt', revision: 'main', gated: false },
    licence: {
      name: 'Apache-2.0 (code repository dvlab-research/ControlNeXt); the UNet is a fine-tune of SVD, so the SVD licence applies to it too',
      url: 'https://github.com/dvlab-research/ControlNeXt/blob/main/LICENSE',
      note: 'The weights repository on the hub states no separate licence that was checked here.',
    },
    files: [
      { path: 'unet.bin', remote: 'ControlNeXt-SVD/v2/unet.bin' },
      { path: 'controlnet.bin', remote: 'ControlNeXt-SVD/v2/controlnet.bin' },
    ],
    unknown: ['bytes and sha256 of both files', 'whether the hub repository carries its own licence file'],
    notes: [
      'Source: the download link in dvlab-research/ControlNeXt ControlNeXt-SVD-v2/README.md (@ab4b3ac): ' +
        'https://huggingface.co/Pbihao/ControlNeXt/tree/main/ControlNeXt-SVD/v2',
    ],
  },
  {
    name: 'controlnext-svd-v2-fp16',
    title: 'ControlNeXt-SVD-v2 UNet and control branch converted to fp16 safetensors (diffusers key names), by Kijai',
    role: 'controlnext',
    source: { kind: 'hf', repo: 'Kijai/ControlNeXt-SVD-V2-Comfy', revision: 'main', gated: false },
    alternativeTo: 'controlnext-svd-v2',
    licence: {
      name: 'not stated (conversion of the ControlNeXt-SVD-v2 weights; the SVD licence terms carry over to the UNet)',
      url: 'https://huggingface.co/Kijai/ControlNeXt-SVD-V2-Comfy',
    },
    files: [
      { path: 'controlnext-svd_v2-unet-fp16.safetensors' },
      { path: 'controlnext-svd_v2-controlnet-fp16.safetensors' },
    ],
    unknown: ['bytes and sha256 of both files', 'licence of the conversion', 'that every key matches unet.bin/controlnet.bin (fp16, not the fp32 originals)'],
    notes: [
      'Same weights as controlnext-svd-v2 in fp16 safetensors: mmappable, no unpickling. The hub repository also holds a ' +
        '"*_converted" UNet with ComfyUI-native key names, which this tool does not use. Source of the file names: ' +
        'kijai/ComfyUI-ControlNeXt-SVD nodes.py (DownloadAndLoadControlNeXt, @6227d71), which loads them into the ' +
        'diffusers-named UNetSpatioTemporalConditionControlNeXtModel and ControlNeXtSDVModel.',
    ],
  },
  {
    name: 'mediapipe',
    title: 'MediaPipe .task bundles (pose, hands, face) for @mediapipe/tasks-vision',
    role: 'mediapipe',
    source: { kind: 'local-build', from: '@mediapipe/holistic 0.5.1675471629 (npm)', builder: 'models/mediapipe-task.ts' },
    licence: {
      name: 'Apache-2.0',
      url: 'https://github.com/google-ai-edge/mediapipe/blob/master/LICENSE',
      note: 'Modified derivatives of the .tflite files in @mediapipe/holistic (a metadata block is added; face: one GATHER op).',
    },
    // Built on first use into $CNEXT_CACHE/mediapipe (pose/mediapipe/bundles.ts), deterministically: the sha256 are
    // BUNDLE_SHA256's (test/models/registry.test.ts keeps them equal). lite and heavy are built for `--model`.
    location: 'mediapipe-cache',
    files: [
      { path: 'pose_landmarker_full.task', sha256: '2e061da59ccbd283d8f74b9d9ae1e2e8b1e79672c82b86567cea13356ad9d771' },
      { path: 'hand_landmarker.task', sha256: 'e0d02f3c35528f79367b3703e958d83ced2b46cb42d11e1f21b02436d3f0ebfe' },
      { path: 'face_landmarker.task', sha256: '9763b980ddd47af02cd6867d70a47bbfe28a3990423671a7ad3d2187e31bed96', optional: true },
      { path: 'pose_landmarker_lite.task', sha256: 'c6ac995c9706d43da7f7f20c057f25df1122bedfbb3a248647b797860a0b4a81', optional: true },
      { path: 'pose_landmarker_heavy.task', sha256: '988cc39b9ea06423d796342ff9e50d57629ef27849794826809df7deed917f0f', optional: true },
    ],
    notes: ['Built locally from the npm package, never downloaded; the builder owns the exact file set.'],
  },
  {
    name: 'dwpose',
    title: 'DWPose ONNX models: YOLOX-L person detector and DWPose-L whole-body pose (384×288), as ControlNeXt uses them',
    role: 'dwpose',
    source: { kind: 'hf', repo: 'yzd-v/DWPose', revision: 'main', gated: false },
    licence: {
      name: 'Apache-2.0',
      url: 'https://github.com/IDEA-Research/DWPose/blob/main/LICENSE',
      note: 'DWPose (IDEA-Research) and the YOLOX detector (Megvii) are both Apache-2.0; the hub repository was not checked for a licence file of its own.',
    },
    files: [
      { path: 'yolox_l.onnx', note: 'person detector: input [1, 3, 640, 640], output [1, 8400, 85]' },
      { path: 'dw-ll_ucoco_384.onnx', note: 'whole-body pose: input [1, 3, 384, 288], outputs simcc_x [1, 133, 576], simcc_y [1, 133, 768]' },
    ],
    unknown: [
      'bytes and sha256 of both files (Git LFS: the hub reports them in X-Linked-Size / X-Linked-Etag at pull time; they are checked then and recorded)',
      'the commit `main` points at (recorded at pull time)',
    ],
    notes: [
      'Source: the docstring of DWposeDetector in dvlab-research/ControlNeXt ControlNeXt-SVD-v2/dwpose/dwpose_detector.py ' +
        '(@ab4b3ac) names https://huggingface.co/yzd-v/DWPose/blob/main/yolox_l.onnx and .../dw-ll_ucoco_384.onnx; the ' +
        'ControlNeXt README links the same two files on Google Drive.',
      'Optional: `--pose-model dwpose` (or `auto`) uses them; MediaPipe needs nothing to download.',
    ],
  },
];

/** The models `cnext models pull` fetches when no name is given: what `generate` needs. */
export const DEFAULT_PULL: readonly string[] = ['svd-xt-1-1', 'controlnext-svd-v2'];

export function findModel(name: string, registry: readonly ModelEntry[] = REGISTRY): ModelEntry | undefined {
  return registry.find((m) => m.name === name);
}

/** The path of `file` inside its hub repository. */
export function remotePath(file: ModelFile): string {
  return file.remote ?? file.path;
}

/** Files `pull` fetches: all required ones, plus optional ones when asked. */
export function filesToPull(entry: ModelEntry, allFiles: boolean): readonly ModelFile[] {
  return entry.files.filter((f) => allFiles || !f.optional);
}
