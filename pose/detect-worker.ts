// worker_thread entry of pose/detect.ts: one LandmarkerHost per worker, fed over postMessage.
// Messages in:  {type:'init', specs} · {type:'detect', id, frame} · {type:'close'}
// Messages out: {type:'ready'} · {type:'result', id, result} · {type:'error', id?, message, code?} · {type:'closed'}
import { parentPort } from 'node:worker_threads';
import { LandmarkerHost, recentWasmLog, type HostFrame, type LandmarkerSpec } from './mediapipe/host.ts';
import { blockedTelemetry } from './mediapipe/telemetry.ts';

export type WorkerRequest =
  | { type: 'init'; specs: LandmarkerSpec[] }
  | { type: 'detect'; id: number; frame: HostFrame }
  | { type: 'close' };

export type WorkerReply =
  | { type: 'ready' }
  | { type: 'result'; id: number; result: ReturnType<LandmarkerHost['detect']> }
  | { type: 'error'; id?: number; message: string; code?: string; log: string[] }
  /** `blocked`: telemetry requests this thread refused (see mediapipe/telemetry.ts) */
  | { type: 'closed'; blocked: string[] };

const port = parentPort;
if (!port) throw new Error('pose/detect-worker.ts must run in a worker_thread');

let host: LandmarkerHost | undefined;
const reply = (m: WorkerReply) => port.postMessage(m);
const fail = (e: unknown, id?: number) => {
  const err = e as { message?: string; code?: string };
  reply({ type: 'error', id, message: err?.message ?? String(e), code: err?.code, log: recentWasmLog() });
};

port.on('message', async (m: WorkerRequest) => {
  switch (m.type) {
    case 'init':
      try {
        host = await LandmarkerHost.create(m.specs);
        reply({ type: 'ready' });
      } catch (e) {
        fail(e);
      }
      break;
    case 'detect':
      try {
        if (!host) throw new Error('detect before init');
        reply({ type: 'result', id: m.id, result: host.detect(m.frame) });
      } catch (e) {
        fail(e, m.id);
      }
      break;
    case 'close':
      host?.close();
      host = undefined;
      await new Promise((r) => setTimeout(r, 0)); // let the metrics logger's close-time POST reach fetch
      reply({ type: 'closed', blocked: [...blockedTelemetry()] });
      port.close();
      break;
  }
});
