// The pose extractors a job can ask for (`--pose-model`), like core/device.ts for devices: a leaf list that the knob
// table, the CLI and the models layer share. `auto` is DWPose when its files are installed, else MediaPipe
// (resolved by models/pose-model.ts before a job's keys are computed).
export const POSE_MODEL_CHOICES = ['auto', 'dwpose', 'mediapipe'] as const;
export type PoseModelChoice = (typeof POSE_MODEL_CHOICES)[number];
