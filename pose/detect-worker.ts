// worker_thread entry of pose/detect.ts: one LandmarkerHost per worker, fed over postMessage.
// Messages in:  {type:'init', specs} · {type:'detect', id, frame} · {type:'close'}
// Messages out: {type:'ready'} · {type:'result', id, result} · {type:'error', id?, message, code?} · {type:'closed'}
import { parentPort } from 'node:worker_threads';
import { LandmarkerHost, recentWasmLog, type HostFrame, type LandmarkerSpec } from './mediapipe/host.ts';

export type WorkerRequest =
  | { type: 'init'; specs: LandmarkerSpec[] }
  | { type: 'detect'; id: number; frame: HostFrame }
  | { type: 'close' };

export type WorkerReply =
  | { type: 'ready' }
  | { type: 'result'; id: number; result: ReturnType<LandmarkerHost['detect']> }
  | { type: 'error'; id?: number; message: string; code?: string; log: string[] }
  | { type: 'closed' };

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
      reply({ type: 'closed' });
      port.close();
      break;
  }
});
