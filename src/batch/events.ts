// Batch-level events, next to the JobEvents of the item being generated. Front ends (TUI, plain log, NDJSON)
// consume `JobEvent | BatchEvent`.
export type ItemStatus = 'done' | 'skipped' | 'failed' | 'cancelled' | 'pending';

export type BatchEvent =
  | { type: 'batch-start'; items: number; outDir: string }
  | { type: 'item-start'; index: number; items: number; name: string; video: string; ref: string; preset: string; output: string }
  | { type: 'item-end'; index: number; items: number; name: string; status: Exclude<ItemStatus, 'pending'>; seconds: number; output?: string; error?: string }
  | { type: 'batch-end'; done: number; skipped: number; failed: number; cancelled: number; report: string; seconds: number };

export const isBatchEvent = (e: { type: string }): e is BatchEvent =>
  e.type === 'batch-start' || e.type === 'item-start' || e.type === 'item-end' || e.type === 'batch-end';
