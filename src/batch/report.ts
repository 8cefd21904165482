// OUTDIR/report.json: one entry per item (status, seconds, output, error) plus what skip-done needs next time
// (the item key and the output's size and mtime). Rewritten atomically after every item, so an interrupted batch
// leaves a valid report.
import fs from 'node:fs';
import path from 'node:path';
import { writeJsonAtomic } from '../core/atomic-file.ts';
import { formatDuration } from '../ui/format.ts';
import type { ItemStatus } from './events.ts';

export const REPORT_FILE = 'report.json';

export interface ReportItem {
  readonly name: string;
  readonly video: string;
  readonly ref?: string;
  readonly preset: string;
  readonly output: string;
  readonly status: ItemStatus;
  readonly seconds: number;
  readonly error?: string;
  /** sha256 of the inputs' contents, the resolved options and the models (src/batch/key.ts). */
  readonly key?: string;
  /** The output as written (skip-done and "is this file ours?" compare both). */
  readonly bytes?: number;
  readonly mtimeMs?: number;
}

export interface BatchReport {
  readonly format: 'cnext-batch-report';
  readonly version: 1;
  readonly outDir: string;
  readonly startedAt: string;
  readonly finishedAt?: string;
  readonly seconds: number;
  readonly summary: Record<ItemStatus, number>;
  readonly items: readonly ReportItem[];
}

export function summarize(items: readonly ReportItem[]): Record<ItemStatus, number> {
  const s: Record<ItemStatus, number> = { done: 0, skipped: 0, failed: 0, cancelled: 0, pending: 0 };
  for (const it of items) s[it.status]++;
  return s;
}

export function readReport(file: string): BatchReport | null {
  try {
    const r = JSON.parse(fs.readFileSync(file, 'utf8')) as BatchReport;
    return r?.format === 'cnext-batch-report' && r.version === 1 && Array.isArray(r.items) ? r : null;
  } catch {
    return null;
  }
}

export function writeReport(file: string, r: BatchReport): void {
  writeJsonAtomic(file, r);
}

/** The summary table printed at the end of a batch. */
export function formatSummary(r: BatchReport, cwd = process.cwd()): string {
  const rows = [['#', 'ITEM', 'STATUS', 'TIME', 'OUTPUT / ERROR']];
  r.items.forEach((it, i) => {
    const rel = path.relative(cwd, it.output).startsWith('..') ? it.output : path.relative(cwd, it.output);
    rows.push([String(i + 1), it.name, it.status, it.status === 'pending' ? '' : formatDuration(it.seconds), it.error ? it.error.split('\n')[0]! : rel]);
  });
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  const lines = rows.map((row) => row.map((cell, c) => (c === row.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ').trimEnd());
  const s = r.summary;
  const counts = (['done', 'skipped', 'failed', 'cancelled', 'pending'] as const).filter((k) => s[k]).map((k) => `${s[k]} ${k}`);
  return `${lines.join('\n')}\n${counts.join(', ')} in ${formatDuration(r.seconds)}; report: ${path.join(r.outDir, REPORT_FILE)}\n`;
}
