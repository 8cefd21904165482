import { useSyncExternalStore } from 'react';
import type { UiState } from '../state.ts';
import type { UiStore } from '../store.ts';

/** The store's current state; re-renders on every event. */
export function useUiState(store: UiStore): UiState {
  return useSyncExternalStore(store.subscribe, store.getState, store.getState);
}
