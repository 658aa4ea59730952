// Turning API errors into messages: next to the field the error's `path`
// names, or in a notification / alert when no field is to blame.
import { notifications } from "@mantine/notifications";
import { ApiError } from "../../api/client";

/**
 * The error's message when its `path` is `path` or lies inside it (an
 * ApiError, or any error with a `path`, like the editors' own checks).
 */
export function fieldError(err: unknown, path: string): string | undefined {
  if (!(err instanceof Error)) return undefined;
  const p = (err as { path?: unknown }).path;
  if (typeof p !== "string" || !p) return undefined;
  const inside = p === path || p.startsWith(path + ".") || p.startsWith(path + "[");
  return inside ? err.message : undefined;
}

/** Whether some field of `paths` (or inside them) is blamed by `err`. */
export function blamesField(err: unknown, paths: string[]): boolean {
  return paths.some((p) => fieldError(err, p) !== undefined);
}

/** A readable message for any error. */
export function errorMessage(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.status === 403) return "Your role does not allow this. " + err.message;
    return err.message;
  }
  return err instanceof Error ? err.message : String(err);
}

export function notifySuccess(message: string): void {
  notifications.show({ color: "teal", title: "Done", message });
}

export function notifyFailure(title: string, err: unknown): void {
  notifications.show({ color: "red", title, message: errorMessage(err), autoClose: 8000 });
}
