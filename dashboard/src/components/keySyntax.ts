// The keys of flags, segments and environments: what the API accepts, and
// the error a create form shows under its Key field.
import { ApiError } from "../api/client";
import { fieldError } from "./admin/errors";

const KEY_SYNTAX = /^[A-Za-z0-9._-]{1,128}$/;

export const KEY_SYNTAX_HINT = "1 to 128 letters, digits, '-', '_' or '.'";

export const isValidKey = (key: string): boolean => KEY_SYNTAX.test(key);

/** What is wrong with a typed key (nothing yet while it is empty). */
export function keyProblem(key: string): string | undefined {
  return key && !isValidKey(key) ? KEY_SYNTAX_HINT : undefined;
}

/** The Key field's error: its syntax, else the API's complaint about it (e.g. already taken). */
export function keyFieldError(key: string, error: unknown): string | undefined {
  return (
    keyProblem(key) ??
    fieldError(error, "key") ??
    (error instanceof ApiError && error.code === "duplicate_key" ? error.message : undefined)
  );
}
