// A worker keeps its networks: the pipeline loads each network when its stage starts and releases it at the end
// (one stage's networks in RAM at a time, right for a single run). Across many jobs that would rebuild graphs and
// sessions for every job, so the worker wraps its components: each network is loaded on first use, its release()
// is a no-op, and dispose() releases them all (when the models or settings change, or the worker stops).
import type { PipelineComponents } from '../diffusion/pipeline.ts';

export interface KeptComponents extends PipelineComponents {
  /** Networks loaded so far (for logs and tests). */
  loaded(): string[];
  dispose(): Promise<void>;
}

type Net = { release(): Promise<void> };
const NETS = ['imageEncoder', 'vae', 'unet', 'controlnext'] as const;

/** The network as is, except that release() does nothing (methods stay bound to the real object). */
function withoutRelease<N extends Net>(net: N): N {
  const noop = async () => {};
  return new Proxy(net, {
    get(target, prop) {
      if (prop === 'release') return noop;
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

export function keepLoaded(c: PipelineComponents, key: string): KeptComponents {
  const cache = new Map<string, Promise<Net>>();
  const kept = <N extends Net>(name: (typeof NETS)[number], load: () => Promise<N>) => () => {
    let p = cache.get(name);
    if (!p) {
      p = load();
      p.catch(() => cache.delete(name)); // a failed load is tried again by the next job
      cache.set(name, p);
    }
    return p.then((net) => withoutRelease(net as N));
  };
  return {
    schedulerConfig: c.schedulerConfig,
    clipNormalization: c.clipNormalization,
    key,
    imageEncoder: kept('imageEncoder', c.imageEncoder),
    vae: kept('vae', c.vae),
    unet: kept('unet', c.unet),
    controlnext: kept('controlnext', c.controlnext),
    loaded: () => [...cache.keys()],
    async dispose() {
      const nets = [...cache.values()];
      cache.clear();
      await Promise.allSettled(nets.map(async (p) => (await p).release()));
    },
  };
}
