// The IPC contract between the UI and the till shell (src-tauri/src/commands.rs).
// Every command returns a promise; a failure rejects with an `ApiError` whose `code` is one of
// `ErrorCode` (generated from the till's Rust enum). The UI switches on the code and shows the
// message from the dictionary.
import { invoke } from "@tauri-apps/api/core";

// The error contract is generated from the till's Rust types (src-tauri/src/error.rs, by
// src-tauri/src/bindings.rs); the test command fails when these files are stale.
import type { ApiError } from "./generated/ApiError";
import type { ErrorCode } from "./generated/ErrorCode";
export type { ApiError, ErrorCode };

// What a scan at checkout was, as the till classified it, and the cart after it.
export interface ScanOutcome {
  kind: "member_card" | "member_qr" | "item";
  cart: Cart;
}

export type Role = "cashier" | "manager";
export interface Staff {
  id: string;
  code: string;
  name: string;
  role: Role;
}

export type Language = "en" | "zh-Hant";
export type TaxMode = "inclusive" | "exclusive";

export interface StoreInfo {
  name: string;
  currency: string; // ISO 4217, e.g. "TWD"
  currency_exponent: number; // minor digits, e.g. 2
  tax_mode: TaxMode;
  cash_rounding_minor: number; // e.g. 10 = round cash to 0.10; 1 = no rounding
  utc_offset_minutes: number; // the store's local time, e.g. 480 for Taipei (UTC+8)
}

export interface Settings {
  language: Language;
  idle_lock_seconds: number; // 0 = never lock
  printer_address: string | null; // "host:port", port 9100 by default
  cash_rounding_minor: number;
  tax_mode: TaxMode;
}

export interface AppStatus {
  // When `error` is set the ledger could not be opened; the UI shows only that message.
  error: ApiError | null;
  store: StoreInfo | null;
  settings: Settings | null;
  receipt_prefix: string | null;
  session: Staff | null;
  sync: SyncStatus;
}

// The sync engine's state: "not_configured" until a manager enrols the till with the cloud.
export interface SyncStatus {
  state: "not_configured" | "online" | "offline" | "syncing" | "revoked";
  // Whether the till asks the cloud now (a look-up, a points hold, a history): the till's one
  // definition of online, which the dialogs follow.
  online: boolean;
  pending: number;
  oldest_pending_at: string | null;
  last_sync_at: string | null;
  message: string | null;
  // Feed entries downloaded in the current round and still to come (the first sync of a large
  // catalog); both 0 when nothing is downloading.
  downloaded: number;
  remaining: number;
  // Downloaded products not yet indexed for search: scanning sells them already, and search
  // finds them more slowly until they are indexed.
  search_waiting: number;
  needs_review: number; // refused operations not yet reviewed, and member conflicts not yet resolved
  // The cloud was restored from a backup and forgot operations this till had sent: how many are
  // still being sent again, of how many. Both 0 otherwise.
  resending: number;
  resend_total: number;
}

// An operation the cloud refused for a business reason (the manager's review list).
export interface Refusal {
  seq: number;
  op_type: string; // "sale.completed", "refund.completed", or a newer type
  receipt_no: string | null;
  created_at_ms: number;
  reason: string; // the cloud's words
  received_at_ms: number;
  resolved_at_ms: number | null;
  resolved_by: string | null; // the reviewing manager's name
  note: string | null;
}

// A member's history from both channels (asked of the cloud, online only). `channel` is
// "online" for the e-shop or a store's code.
export interface MemberHistory {
  member_id: string;
  balance: number;
  // Newest first; kind is earn, redeem, reverse (a refund), adjust (customer service) or
  // expire; note says why, in words, for an adjustment or an expiry.
  points: {
    kind: string;
    points: number;
    channel: string;
    ref_id: string | null;
    at_ms: number;
    note?: string | null;
  }[];
  purchases: { reference: string; channel: string; spend_minor: number; at_ms: number }[];
}

// A member conflict the cloud found, for the manager's review list.
export interface MemberConflict {
  id: string;
  conflict: "overdraft" | "coupon_double_use" | "merged_enrolment" | string;
  member_id: string;
  member_name: string | null;
  summary: string; // the cloud's words
  created_at_ms: number;
  resolved_at_ms: number | null;
  note: string | null;
}

export type Discount =
  | { kind: "percent"; basis_points: number } // 1000 = 10%
  | { kind: "amount"; minor: number };

export interface CartLine {
  line_id: number;
  product_id: number;
  sku: string;
  name: string;
  barcode: string | null;
  quantity: number;
  unit_price_minor: number;
  gross_minor: number; // unit price x quantity
  line_discount: Discount | null;
  discount_minor: number; // line discount + this line's share of the cart discount
  total_minor: number; // what the customer pays for this line (tax included when tax is inclusive)
  tax_minor: number;
}

export type Tender =
  | {
      kind: "cash";
      amount_minor: number; // applied to the sale
      tendered_minor: number; // handed over by the customer
      change_minor: number;
      reference: null;
    }
  | {
      kind: "card";
      amount_minor: number;
      tendered_minor: number;
      change_minor: 0;
      reference: string; // terminal reference typed by the cashier
    }
  | {
      kind: "points";
      amount_minor: number; // what the points pay
      tendered_minor: number;
      change_minor: 0;
      reference: null;
      points: number; // points redeemed
      reserved_online: boolean; // held at the cloud (false: redeemed offline, checked at sync)
    };

export interface Coupon {
  id: string;
  kind: string; // "welcome" | "birthday" | "campaign"
  title: string;
  discount_kind: "percent" | "amount";
  value: number; // basis points or minor units
  min_spend_minor: number;
  valid_from_ms: number;
  valid_to_ms: number;
}

// Which bound limits an offline redemption, and the figures behind each bound.
export interface OfflineLimit {
  points: number;
  bound: "balance" | "member_cap" | "till_allowance";
  balance_left: number;
  member_cap_left: number;
  allowance_left: number;
}

// A new member enrolled at the till: a phone or an e-mail, and consent to the terms, are needed.
export interface Enrolment {
  name: string;
  phone: string | null;
  email: string | null;
  birthday: string | null; // YYYY-MM-DD
  consent_terms: boolean;
  consent_marketing: boolean;
}

// The member attached to the cart: look-up keys are only ever shown masked.
export interface CartMember {
  id: string;
  name: string;
  tier: string;
  tier_name: string;
  tier_discount_bp: number;
  phone_masked: string | null;
  email_masked: string | null;
  confirmed_balance: number; // the cloud's balance as of the last sync
  confirmed_at_ms: number;
  pending_points: number; // this till's entries not yet confirmed (signed)
  balance: number; // confirmed + pending
  coupons: Coupon[];
  local_only: boolean;
  offline_limit: OfflineLimit;
  point_value_minor: number;
  // The most points this payment may take while the till asks the cloud, and while it cannot,
  // computed by the till: the pay dialog offers one of them and computes nothing.
  points_usable_online: number;
  points_usable_offline: number;
  tier_discount_minor: number;
  coupon_id: string | null;
  coupon_title: string | null;
  coupon_discount_minor: number;
  coupon_reserved_online: boolean;
}

export interface Cart {
  currency: string;
  lines: CartLine[];
  cart_discount: Discount | null;
  subtotal_minor: number; // sum of gross
  discount_minor: number; // all discounts
  tax_minor: number;
  total_minor: number; // amount due before cash rounding
  rounding_minor: number; // cash rounding applied so far (+/-)
  tenders: Tender[];
  paid_minor: number;
  due_minor: number; // still to pay by card (exact)
  cash_due_minor: number; // still to pay if the rest is paid in cash (rounded)
  change_minor: number;
  fully_paid: boolean;
  member: CartMember | null;
}

export interface ProductHit {
  product_id: number;
  sku: string;
  name: string;
  barcode: string | null;
  price_minor: number;
  active: boolean;
}

export interface ReceiptLine {
  name: string;
  sku: string;
  quantity: number;
  unit_price_minor: number;
  discount_minor: number;
  total_minor: number;
}

export interface Receipt {
  kind: "sale" | "refund";
  receipt_no: string;
  original_receipt_no: string | null; // for refunds
  created_at: string; // RFC 3339
  store_name: string;
  staff_name: string;
  approved_by: string | null; // manager who approved a refund
  currency: string;
  tax_mode: TaxMode;
  lines: ReceiptLine[];
  subtotal_minor: number;
  discount_minor: number;
  tax_minor: number;
  rounding_minor: number;
  total_minor: number;
  tenders: Tender[];
  change_minor: number;
  member: ReceiptMember | null;
  // Code 128 of the receipt number as bar/space modules: "1" = black module, "0" = white.
  barcode_modules: string;
  // The receipt as the 42-column printer renders it, one string per line.
  text_lines: string[];
}

// The member block of a receipt: points earned and redeemed and the balance after the sale,
// "pending" while the cloud has not confirmed it.
export interface ReceiptMember {
  name: string;
  tier_name: string;
  points_earned: number;
  points_redeemed: number;
  balance_after: number;
  balance_pending: boolean;
  tier_discount_minor: number;
  coupon_title: string | null;
  coupon_discount_minor: number;
}

export interface ReceiptSummary {
  kind: "sale" | "refund";
  receipt_no: string;
  created_at: string;
  total_minor: number;
  staff_name: string;
}

export interface RefundableLine {
  line_no: number;
  name: string;
  sku: string;
  quantity_sold: number;
  quantity_refunded: number;
  refundable_quantity: number;
  unit_refund_minor: number; // what one unit refunds (after discounts)
}

export interface RefundableSale {
  receipt_no: string;
  created_at: string;
  total_minor: number;
  lines: RefundableLine[];
  tenders: Tender[];
}

// What a refund would give back, computed by core as the refund computes it.
export interface RefundQuote {
  lines: { line_no: number; quantity: number; amount_minor: number }[];
  total_minor: number;
}

export interface RefundRequest {
  receipt_no: string;
  lines: { line_no: number; quantity: number }[];
  manager_code: string;
  manager_pin: string;
}

export const api = {
  appStatus: () => invoke<AppStatus>("app_status"),
  uiReady: () => invoke<void>("ui_ready"),
  login: (staffCode: string, pin: string) => invoke<Staff>("login", { staffCode, pin }),
  lock: () => invoke<void>("lock"),
  cartGet: () => invoke<Cart>("cart_get"),
  cartScan: (code: string) => invoke<Cart>("cart_scan", { code }),
  // A code from the scan field: the till decides whether it is a member's card or QR code
  // (attached to the sale) or an item (added), and says which.
  checkoutScan: (code: string) => invoke<ScanOutcome>("checkout_scan", { code }),
  cartAddProduct: (productId: number) => invoke<Cart>("cart_add_product", { productId }),
  cartSetQuantity: (lineId: number, quantity: number) =>
    invoke<Cart>("cart_set_quantity", { lineId, quantity }),
  cartRemoveLine: (lineId: number) => invoke<Cart>("cart_remove_line", { lineId }),
  cartSetLineDiscount: (lineId: number, discount: Discount | null) =>
    invoke<Cart>("cart_set_line_discount", { lineId, discount }),
  cartSetCartDiscount: (discount: Discount | null) =>
    invoke<Cart>("cart_set_cart_discount", { discount }),
  cartClear: () => invoke<Cart>("cart_clear"),
  // Cash: amount is what the customer hands over. Card: amount is charged on the terminal.
  cartAddTender: (kind: "cash" | "card", amountMinor: number, reference: string | null) =>
    invoke<Cart>("cart_add_tender", { kind, amountMinor, reference }),
  cartRemoveTender: (index: number) => invoke<Cart>("cart_remove_tender", { index }),
  // A scanned QR code, card number, phone or e-mail: finds the member and attaches them.
  memberAttach: (input: string) => invoke<Cart>("member_attach", { input }),
  memberDetach: () => invoke<Cart>("member_detach"),
  memberHistory: () => invoke<MemberHistory>("member_history"),
  // Enrols a new member at this till (works offline) and attaches them to the sale.
  memberEnrol: (request: Enrolment) => invoke<Cart>("member_enrol", { request }),
  cartApplyCoupon: (couponId: string) => invoke<Cart>("cart_apply_coupon", { couponId }),
  cartRemoveCoupon: () => invoke<Cart>("cart_remove_coupon"),
  cartPayPoints: (points: number) => invoke<Cart>("cart_pay_points", { points }),
  memberConflicts: (includeResolved: boolean) =>
    invoke<MemberConflict[]>("member_conflicts", { includeResolved }),
  conflictResolve: (conflictId: string, note: string) =>
    invoke<MemberConflict>("conflict_resolve", { conflictId, note }),
  saleComplete: () => invoke<Receipt>("sale_complete"),
  catalogSearch: (query: string) => invoke<ProductHit[]>("catalog_search", { query }),
  receiptGet: (receiptNo: string) => invoke<Receipt>("receipt_get", { receiptNo }),
  receiptPrint: (receiptNo: string) => invoke<void>("receipt_print", { receiptNo }),
  receiptsRecent: () => invoke<ReceiptSummary[]>("receipts_recent"),
  refundLookup: (receiptNo: string) => invoke<RefundableSale>("refund_lookup", { receiptNo }),
  refundQuote: (receiptNo: string, lines: { line_no: number; quantity: number }[]) =>
    invoke<RefundQuote>("refund_quote", { receiptNo, lines }),
  refundComplete: (request: RefundRequest) => invoke<Receipt>("refund_complete", { request }),
  settingsUpdate: (settings: Settings) => invoke<Settings>("settings_update", { settings }),
  setLanguage: (language: Language) => invoke<Settings>("set_language", { language }),
  // A manager links the till to the brand's cloud with its address and a one-time code.
  enrol: (cloudUrl: string, code: string) => invoke<AppStatus>("enrol", { cloudUrl, code }),
  // The manager's review list of refused operations, and marking one reviewed.
  refusalsList: (includeReviewed: boolean) => invoke<Refusal[]>("refusals_list", { includeReviewed }),
  refusalReview: (seq: number, note: string) => invoke<Refusal>("refusal_review", { seq, note }),
};
