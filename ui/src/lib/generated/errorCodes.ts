// Generated with the ErrorCode type by crates/omnitill-app/src/bindings.rs. Do not edit.
import type { ErrorCode } from "./ErrorCode";

// Every ErrorCode, as a value: what a rejection's code is checked against.
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
