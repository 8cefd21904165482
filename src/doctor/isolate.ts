// Runs network checks in child processes, so that a native crash (a SIGSEGV inside an execution provider) ends a
// child, never the caller. The child announces each check before it starts and after it ends, one marker line
// each; a check that started but never ended died with its process. The remaining checks then run in a fresh
// child, so one crashing network does not hide the others.
import { spawn } from 'node:child_process';

export type CheckStatus = 'ok' | 'error' | 'crash' | 'timeout';

export interface CheckResult {
  readonly name: string;
  readonly status: CheckStatus;
  readonly seconds?: number;
  /** error: the child's message; crash/timeout: how the process ended and its last stderr lines. */
  readonly message?: string;
  /** crash: the signal that killed the child (SIGSEGV, SIGABRT…), when it was one. */
  readonly signal?: string;
}

/** A marker line on the child's stdout: `CNEXT_DOCTOR {json}`. */
export const MARK = 'CNEXT_DOCTOR ';

export type ChildEvent =
  | { readonly name: string; readonly event: 'start' }
  | { readonly name: string; readonly event: 'ok'; readonly seconds: number }
  | { readonly name: string; readonly event: 'error'; readonly seconds: number; readonly message: string };

/** Child side: print one marker line (synchronously flushed before a possible crash of the next check). */
export function announce(e: ChildEvent): void {
  process.stdout.write(`${MARK}${JSON.stringify(e)}\n`);
}

export interface ChildCommand {
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
}

export interface IsolateOptions {
  /** Wall-clock limit of one child process (all the checks it runs), ms. */
  readonly timeoutMs: number;
  /** Called as each check finishes (for streaming output). */
  readonly onResult?: (r: CheckResult) => void;
}

interface ChildOutcome {
  readonly events: ChildEvent[];
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly timedOut: boolean;
  readonly stderrTail: string;
}

function runChild(cmd: ChildCommand, timeoutMs: number, onEvent: (e: ChildEvent) => void): Promise<ChildOutcome> {
  return new Promise((resolve) => {
    const child = spawn(cmd.command, [...cmd.args], { stdio: ['ignore', 'pipe', 'pipe'], env: cmd.env ?? process.env });
    const events: ChildEvent[] = [];
    let buffered = '';
    let stderr = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.on('data', (d: Buffer) => {
      buffered += d.toString();
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (!line.startsWith(MARK)) continue;
        try {
          const e = JSON.parse(line.slice(MARK.length)) as ChildEvent;
          events.push(e);
          onEvent(e);
        } catch {
          // a torn line from a dying child: ignore
        }
      }
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      clearTimeout(timer);
      const stderrTail = stderr.trim().split('\n').filter((l) => l.trim()).slice(-3).join(' | ');
      resolve({ events, code, signal, timedOut, stderrTail });
    };
    child.on('error', (e) => {
      stderr += `\n${e.message}`;
      finish(null, null);
    });
    child.on('close', finish);
  });
}

/**
 * Runs the named checks, each at most once, in as few child processes as crashes allow: `command(names)` gives
 * the child that runs those checks in order. Results come back in the order of `names`.
 */
export async function runIsolatedChecks(
  names: readonly string[],
  command: (names: readonly string[]) => ChildCommand,
  options: IsolateOptions,
): Promise<CheckResult[]> {
  const results = new Map<string, CheckResult>();
  const record = (r: CheckResult) => {
    results.set(r.name, r);
    options.onResult?.(r);
  };
  let remaining = [...names];
  while (remaining.length) {
    let running: string | undefined;
    const outcome = await runChild(command(remaining), options.timeoutMs, (e) => {
      if (e.event === 'start') running = e.name;
      else {
        running = undefined;
        record(e.event === 'ok'
          ? { name: e.name, status: 'ok', seconds: e.seconds }
          : { name: e.name, status: 'error', seconds: e.seconds, message: e.message });
      }
    });
    const how = outcome.timedOut
      ? `no result within ${Math.round(options.timeoutMs / 1000)} s (the child was killed)`
      : outcome.signal
        ? `the process was killed by ${outcome.signal}`
        : `the process exited with status ${outcome.code}`;
    const detail = outcome.stderrTail ? `${how}; last stderr: ${outcome.stderrTail}` : how;
    // The check that was running when the child ended is the one that took it down (or hung).
    const culprit = running ?? remaining.find((n) => !results.has(n));
    if (culprit && !results.has(culprit)) {
      const status: CheckStatus = outcome.timedOut ? 'timeout' : outcome.signal || running ? 'crash' : 'error';
      const message = !outcome.timedOut && !outcome.signal && outcome.code === 0 ? 'the child ended without a result' : detail;
      record({ name: culprit, status, message, ...(outcome.signal ? { signal: outcome.signal } : {}) });
    }
    remaining = remaining.filter((n) => !results.has(n));
  }
  return names.map((n) => results.get(n)!);
}
