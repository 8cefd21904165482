// Every error the tool raises on purpose is a CnextError: a stable code, a category that picks the
// exit status, and optionally "Possible solutions:" lines. Libraries throw; only `src/cli` formats.

export type ErrorCategory = 'user' | 'system' | 'third-party';

export const EXIT_CODE: Record<ErrorCategory, number> = {
  user: 2,
  system: 3,
  'third-party': 4,
};

export interface CnextErrorOptions {
  category?: ErrorCategory;
  solutions?: readonly string[];
  cause?: unknown;
}

export class CnextError extends Error {
  readonly code: string;
  readonly category: ErrorCategory;
  readonly solutions: readonly string[];

  constructor(code: string, message: string, options: CnextErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CnextError';
    this.code = code;
    this.category = options.category ?? 'user';
    this.solutions = options.solutions ?? [];
  }

  /** Message plus the "Possible solutions:" block, as the CLI prints it. */
  describe(): string {
    if (!this.solutions.length) return this.message;
    return `${this.message}\nPossible solutions:\n${this.solutions.map((s) => `- ${s}`).join('\n')}`;
  }
}

export function isCnextError(e: unknown): e is CnextError {
  return e instanceof CnextError;
}

/** Raised when an AbortSignal stops a job; the CLI prints how to resume. */
export class CancelledError extends CnextError {
  constructor(message = 'Cancelled') {
    super('CANCELLED', message, { category: 'user' });
    this.name = 'CancelledError';
  }
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CancelledError();
}
