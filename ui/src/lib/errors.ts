// Turns whatever a rejected `invoke` gives back into an ApiError the UI can switch on.
// The till rejects with `{code, message}`; the Tauri runtime itself can reject with a plain
// string (an unknown command, a missing argument), and outside Tauri `invoke` throws a TypeError.

import type { ApiError, ErrorCode } from "./api";

// Every ErrorCode as a value, generated with the type from the till's Rust enum. The check
// below fails to compile should the two ever part.
import { ERROR_CODES } from "./generated/errorCodes";
export { ERROR_CODES };

type Missing = Exclude<ErrorCode, (typeof ERROR_CODES)[number]>;
const everyCodeListed: Missing extends never ? true : Missing = true;
void everyCodeListed;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && (ERROR_CODES as readonly string[]).includes(value);
}

export function toApiError(error: unknown): ApiError {
  if (typeof error === "object" && error !== null) {
    const { code, message } = error as { code?: unknown; message?: unknown };
    if (isErrorCode(code)) {
      return { code, message: typeof message === "string" ? message : "" };
    }
    if (error instanceof Error) return { code: "internal", message: error.message };
    return { code: "internal", message: JSON.stringify(error) };
  }
  return { code: "internal", message: String(error) };
}
