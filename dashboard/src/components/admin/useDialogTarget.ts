import { useCallback, useState } from "react";

/**
 * What a dialog is about, kept after it closes so that its closing
 * animation still shows the same text. (Not for secrets: the new-key
 * dialog drops its plaintext at once.)
 */
export function useDialogTarget<T>() {
  const [state, setState] = useState<{ target: T | null; opened: boolean }>({ target: null, opened: false });
  const open = useCallback((target: T) => setState({ target, opened: true }), []);
  const close = useCallback(() => setState((s) => ({ ...s, opened: false })), []);
  return { target: state.target, opened: state.opened, open, close };
}
