// The IPC contract between the UI and the till shell (src-tauri/src/commands.rs), over the
// till's use cases (crates/omnitill-app). Every command returns a promise; a failure rejects
// with an `ApiError` whose `code` is one of `ErrorCode`. The UI switches on the code and shows
// the message from the dictionary.
//
// Every request and reply type is generated from the till's Rust types (crates/omnitill-app/
// src/bindings.rs, into ./generated); the test command fails when those files are stale. Only
// the short names the components use are given here.
import { invoke } from "@tauri-apps/api/core";

import type { ApiError } from "./generated/ApiError";
import type { AppStatus } from "./generated/AppStatus";
import type { CachedCoupon } from "./generated/CachedCoupon";
import type { CartLineView } from "./generated/CartLineView";
import type { CartMemberView } from "./generated/CartMemberView";
import type { CartView } from "./generated/CartView";
import type { Conflict } from "./generated/Conflict";
import type { Discount } from "./generated/Discount";
import type { Enrolment } from "./generated/Enrolment";
import type { ErrorCode } from "./generated/ErrorCode";
import type { FloorView } from "./generated/FloorView";
import type { FoundPickup } from "./generated/FoundPickup";
import type { NextAction } from "./generated/NextAction";
import type { PickupCard } from "./generated/PickupCard";
import type { PickupQueue } from "./generated/PickupQueue";
import type { PickupLineView } from "./generated/PickupLineView";
import type { FloorProduct } from "./generated/FloorProduct";
import type { History } from "./generated/History";
import type { Language } from "./generated/Language";
import type { LinkState } from "./generated/LinkState";
import type { OfflineLimit } from "./generated/OfflineLimit";
import type { PickupLine } from "./generated/PickupLine";
import type { PickupOrder } from "./generated/PickupOrder";
import type { ProductHit } from "./generated/ProductHit";
import type { ReceiptLine } from "./generated/ReceiptLine";
import type { ReceiptMember } from "./generated/ReceiptMember";
import type { ReceiptSummary } from "./generated/ReceiptSummary";
import type { ReceiptTender } from "./generated/ReceiptTender";
import type { ReceiptView } from "./generated/ReceiptView";
import type { RefundableLine } from "./generated/RefundableLine";
import type { RefundableSale } from "./generated/RefundableSale";
import type { RefundLineRequest } from "./generated/RefundLineRequest";
import type { RefundQuote } from "./generated/RefundQuote";
import type { RefundRequest } from "./generated/RefundRequest";
import type { Refusal } from "./generated/Refusal";
import type { Role } from "./generated/Role";
import type { ScanOutcome } from "./generated/ScanOutcome";
import type { Settings } from "./generated/Settings";
import type { StaffSession } from "./generated/StaffSession";
import type { StoreInfo } from "./generated/StoreInfo";
import type { SyncStatus } from "./generated/SyncStatus";
import type { TaxMode } from "./generated/TaxMode";
import type { TenderKind } from "./generated/TenderKind";
import type { TenderView } from "./generated/TenderView";
import type { Verified } from "./generated/Verified";

export type {
  ApiError,
  AppStatus,
  Conflict,
  Discount,
  Enrolment,
  ErrorCode,
  FloorProduct,
  FloorView,
  FoundPickup,
  NextAction,
  PickupCard,
  PickupQueue,
  PickupLineView,
  Language,
  LinkState,
  OfflineLimit,
  PickupLine,
  PickupOrder,
  ProductHit,
  ReceiptLine,
  ReceiptMember,
  ReceiptSummary,
  ReceiptTender,
  RefundableLine,
  RefundableSale,
  RefundLineRequest,
  RefundQuote,
  RefundRequest,
  Refusal,
  Role,
  ScanOutcome,
  Settings,
  StoreInfo,
  SyncStatus,
  TaxMode,
  TenderKind,
  Verified,
};
export type Staff = StaffSession;
export type Cart = CartView;
export type CartLine = CartLineView;
export type CartMember = CartMemberView;
export type Tender = TenderView;
export type Coupon = CachedCoupon;
export type Receipt = ReceiptView;
export type MemberHistory = History;
export type MemberConflict = Conflict;

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
  refundQuote: (receiptNo: string, lines: RefundLineRequest[]) =>
    invoke<RefundQuote>("refund_quote", { receiptNo, lines }),
  refundComplete: (request: RefundRequest) => invoke<Receipt>("refund_complete", { request }),
  settingsUpdate: (settings: Settings) => invoke<Settings>("settings_update", { settings }),
  setLanguage: (language: Language) => invoke<Settings>("set_language", { language }),
  // A manager links the till to the brand's cloud with its address and a one-time code.
  enrol: (cloudUrl: string, code: string) => invoke<AppStatus>("enrol", { cloudUrl, code }),
  // The manager's review list of refused operations, and marking one reviewed.
  refusalsList: (includeReviewed: boolean) => invoke<Refusal[]>("refusals_list", { includeReviewed }),
  refusalReview: (seq: number, note: string) => invoke<Refusal>("refusal_review", { seq, note }),
  // Click-and-collect: the store's queue, the order a customer shows (QR, code or member card),
  // picking (a reason marks a line missing), ready, and handover.
  pickupQueue: (tab: string) => invoke<PickupQueue>("pickup_queue", { tab }),
  pickupOrder: (orderId: string) => invoke<PickupCard>("pickup_order", { orderId }),
  pickupFind: (input: string) => invoke<FoundPickup>("pickup_find", { input }),
  pickupScan: (orderId: string, code: string) =>
    invoke<PickupCard>("pickup_scan", { orderId, code }),
  pickupMarkLine: (orderId: string, lineNo: number, missingReason: string | null) =>
    invoke<PickupCard>("pickup_mark_line", { orderId, lineNo, missingReason }),
  pickupReady: (orderId: string) => invoke<PickupCard>("pickup_ready", { orderId }),
  pickupPutBack: (orderId: string, lineNo: number) =>
    invoke<PickupCard>("pickup_put_back", { orderId, lineNo }),
  pickupHandOver: (orderId: string, verified: Verified) =>
    invoke<PickupCard>("pickup_hand_over", { orderId, verified }),
  pickupCheckout: (orderId: string, verified: Verified) =>
    invoke<Cart>("pickup_checkout", { orderId, verified }),
  memberFloor: () => invoke<FloorView>("member_floor"),
};
