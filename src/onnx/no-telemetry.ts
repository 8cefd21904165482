// onnxruntime-node 1.30's Linux build ships Microsoft 1DS telemetry (a device id under
// ~/.cache/Microsoft/DeveloperTools and uploads to events.data.microsoft.com). This tool sends nothing
// anywhere, so the library's own opt-out is set before the native module loads; session.ts imports this
// module first for that reason. A user who sets ORT_DISABLE_TELEMETRY themselves keeps their value.
process.env.ORT_DISABLE_TELEMETRY ??= '1';
export {};
