// The state of a form's submit: whether its request is in flight, and how
// it failed (shown next to a field, or in the form).
import { useState } from "react";

export function useSubmit(action: () => Promise<unknown>) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);

  async function submit() {
    setBusy(true);
    setError(undefined);
    try {
      await action();
    } catch (err) {
      setError(err ?? new Error("failed"));
    } finally {
      setBusy(false);
    }
  }

  return { submit, busy, error, setError };
}
