import { afterEach, describe, expect, it } from 'vitest';
import { checkDevicePrecision } from '../../src/core/device.ts';
import { DataType, GraphBuilder } from '../../src/onnx/builder.ts';
import {
  applyCudaPrecision, gpuOutOfMemory, isCudaOutOfMemory, MEMORY_KNOBS, resetCudaPrecisionForTests,
} from '../../src/onnx/cuda.ts';
import { Session } from '../../src/onnx/session.ts';

// Message forms as ONNX Runtime writes them (bfc_arena.cc AllocateRawInternal; cuda_call.cc CudaCall), as they
// reach JS through onnxruntime-node's Error message.
const ORT_OOM = [
  "Non-zero status code returned while running Conv node. Name:'down_blocks/0/resnets/0/conv1/Conv' Status Message: /onnxruntime_src/onnxruntime/core/framework/bfc_arena.cc:376 void* onnxruntime::BFCArena::AllocateRawInternal(size_t, bool, onnxruntime::Stream*, bool, onnxruntime::WaitNotificationFn) Failed to allocate memory for requested buffer of size 4585490524",
  "Non-zero status code returned while running MultiHeadAttention node. Name:'x' Status Message: CUDA failure 2: out of memory ; GPU=0 ; hostname=h200 ; file=/onnxruntime_src/onnxruntime/core/providers/cuda/cuda_allocator.cc ; line=52 ; expr=cudaMalloc((void**)&p, size);",
  '/onnxruntime_src/onnxruntime/core/providers/cuda/cuda_call.cc:129 std::conditional_t<THRW, void, onnxruntime::common::Status> onnxruntime::CudaCall(ERRTYPE, const char*, const char*, SUCCTYPE, const char*, const char*, int) [with ERRTYPE = cublasStatus_t; bool THRW = true] CUBLAS failure 3: CUBLAS_STATUS_ALLOC_FAILED ; GPU=0 ; hostname=h ; file=cuda_execution_provider.cc ; line=185 ; expr=cublasCreate(&cublas_handle_);',
  'CUDNN failure 4000: CUDNN_STATUS_ALLOC_FAILED ; GPU=0 ; hostname=h ; expr=cudnnCreate(&cudnn_handle_);',
  'CUDA error cudaErrorMemoryAllocation:out of memory',
];
const NOT_OOM = [
  'CUDA failure 100: no CUDA-capable device is detected ; GPU=0 ; hostname=h ; expr=cudaSetDevice(device_id_);',
  "Non-zero status code returned while running Conv node. Name:'c' Status Message: X num_dims does not match W num_dims.",
  'Failed to load library libonnxruntime_providers_cuda.so with error: libcudnn.so.9: cannot open shared object file',
];

describe('CUDA out-of-memory classifier', () => {
  it.each(ORT_OOM)('is out of memory: %s', (m) => expect(isCudaOutOfMemory(m)).toBe(true));
  it.each(NOT_OOM)('is not: %s', (m) => expect(isCudaOutOfMemory(m)).toBe(false));

  it('GPU_OUT_OF_MEMORY names the network, the input sizes and the knobs, in one line plus solutions', () => {
    const e = gpuOutOfMemory('UNet', 'running', 'sample[2,24,8,128,72] timestep[1]', ORT_OOM[0]);
    expect(e.code).toBe('GPU_OUT_OF_MEMORY');
    expect(e.category).toBe('system');
    expect(e.message).toBe(
      "GPU out of memory running the UNet on inputs sample[2,24,8,128,72] timestep[1] (Conv node down_blocks/0/resnets/0/conv1/Conv: Failed to allocate memory for requested buffer of size 4585490524)",
    );
    expect(e.message).not.toContain('\n');
    expect(gpuOutOfMemory('VAE decoder', 'creating', '', ORT_OOM[2]).message).toBe(
      'GPU out of memory creating the VAE decoder (CUBLAS failure 3: CUBLAS_STATUS_ALLOC_FAILED)',
    );
    const text = e.describe();
    for (const knob of ['--frames-per-batch', '--decode-chunk', '--size']) expect(text).toContain(knob);
    expect(e.solutions).toEqual(MEMORY_KNOBS);
  });
});

describe('CUDA precision switch', () => {
  afterEach(() => resetCudaPrecisionForTests());

  it('fp32 switches TF32 off through NVIDIA_TF32_OVERRIDE=0; tf32 and fp16 leave the default', () => {
    const env: NodeJS.ProcessEnv = {};
    applyCudaPrecision('fp32', env);
    expect(env.NVIDIA_TF32_OVERRIDE).toBe('0');
    resetCudaPrecisionForTests();
    const env2: NodeJS.ProcessEnv = {};
    applyCudaPrecision('fp16', env2);
    applyCudaPrecision('tf32', env2);
    expect(env2.NVIDIA_TF32_OVERRIDE).toBeUndefined();
  });

  it('refuses to mix strict fp32 with TF32-allowed sessions in one process', () => {
    const env: NodeJS.ProcessEnv = {};
    applyCudaPrecision('fp32', env);
    applyCudaPrecision('fp32', env);
    expect(() => applyCudaPrecision('fp16', env)).toThrow(
      'This process already runs CUDA sessions with TF32 off (--precision fp32); a --precision fp16 session cannot run next to them (NVIDIA_TF32_OVERRIDE is process-wide)',
    );
  });

  it('refuses tf32 when the environment already switched TF32 off', () => {
    expect(() => applyCudaPrecision('tf32', { NVIDIA_TF32_OVERRIDE: '0' })).toThrow('--precision tf32 asked for, but NVIDIA_TF32_OVERRIDE=0 is set');
  });
});

describe('Session precision on CPU', () => {
  const model = () => {
    const g = new GraphBuilder(undefined);
    const x = g.input('x', DataType.FLOAT, [2]);
    g.output(g.op('Relu', [x]), 'y', DataType.FLOAT, [2]);
    return g.build();
  };

  it('runs fp32 (the default)', async () => {
    const s = await Session.create(model(), { precision: 'fp32', threads: 1 });
    const out = await s.run({ x: { type: 'float32', dims: [2], data: Float32Array.of(-1, 2) } });
    expect(Array.from(out.y.data as Float32Array)).toEqual([0, 2]);
    await s.release();
  });

  it.each(['fp16', 'tf32'] as const)('leaves the refusal of %s on the CPU to the flags and the loader', async (p) => {
    // The user-facing refusal is core/device.ts's (flags, job options, loadComponents); the session itself runs the
    // graph it is given, so the fp16 graphs' numbers can be checked on the CPU (test/nets/fp16.test.ts).
    expect(() => checkDevicePrecision('cpu', p)).toThrow(`--precision ${p} needs --device cuda; the CPU runs fp32 only`);
    const s = await Session.create(model(), { precision: p, threads: 1 });
    await s.release();
  });
});
