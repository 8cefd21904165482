// An external store the TUI subscribes to (React's useSyncExternalStore): events go in from the job, the
// reducer runs with the store's clock, and every subscriber is told.
import { initialState, reduce, type UiEvent, type UiState } from './state.ts';

export interface UiStore {
  push(e: UiEvent): void;
  /** Marks that the user asked to stop (shown until the job ends). */
  cancelling(): void;
  getState(): UiState;
  subscribe(listener: () => void): () => void;
  readonly clock: () => number;
}

export function createUiStore(clock: () => number = Date.now): UiStore {
  let state = initialState(clock());
  const listeners = new Set<() => void>();
  const set = (next: UiState) => {
    state = next;
    for (const l of listeners) l();
  };
  return {
    clock,
    push: (e) => set(reduce(state, e, clock())),
    cancelling: () => set({ ...state, cancelling: true }),
    getState: () => state,
    subscribe(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
  };
}
