import { useInput } from 'ink';

/** `q` or Ctrl-C calls onCancel (once per key press; the job decides how fast it stops). */
export function useCancelKeys(onCancel: () => void, isActive: boolean): void {
  useInput(
    (input, key) => {
      if (input === 'q' || input === 'Q' || (key.ctrl && input === 'c')) onCancel();
    },
    { isActive },
  );
}
