// Turns whatever a rejected `invoke` gives back into an ApiError the UI can switch on.
// The till rejects with `{code, message}`; the Tauri runtime itself can reject with a plain
// string (an unknown command, a missing argument), and outside Tauri `invoke` throws a TypeError.

import type { ApiError, ErrorCode } from "./api";

// Every ErrorCode, as a value (the type alone is generated from the till's Rust enum). The type
// checks below fail to compile when the generated type gains or loses a code and this list does
// not follow, so the list is checked against the Rust enum, not kept by hand.
export const ERROR_CODES = [
  "bad_input",
  "unknown_barcode",
  "bad_check_digit",
  "bad_barcode",
  "bad_quantity",
  "bad_discount",
  "bad_tender",
  "offline_points_limit",
  "points_unavailable",
  "coupon_unavailable",
  "member_input",
  "member_not_found",
  "card_exceeds_due",
  "not_paid",
  "empty_cart",
  "inactive_product",
  "not_found",
  "wrong_pin",
  "locked_out",
  "not_manager",
  "not_logged_in",
  "refund_exceeds_sold",
  "printer",
  "sync",
  "database_refused",
  "store",
  "ledger_damaged",
  "internal",
] as const satisfies readonly ErrorCode[];

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
