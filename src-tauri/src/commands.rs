//! The IPC commands, one per use case of `omnitill_app::App`.
//!
//! Each command decodes its arguments leniently (a malformed call is a `bad_input` error, never
//! a panic), calls one use case and answers with its result. Nothing else happens here: rules,
//! permissions, prices and cloud calls are the use-case layer's and core's business. The
//! TypeScript of every argument and answer is generated (`omnitill_app::bindings`).

use std::sync::atomic::Ordering;

use omnitill_app::Reply;
use omnitill_app::checkout::ScanOutcome;
use omnitill_app::pickups::{FoundPickup, PickupCard, PickupQueue};
use omnitill_app::receipts::{RefundLineRequest, RefundRequest};
use omnitill_app::status::AppStatus;
use omnitill_app::views::{CartView, ReceiptView};
use omnitill_core::catalog::ProductHit;
use omnitill_core::floor::member_view::FloorView;
use omnitill_core::ledger::{ReceiptSummary, RefundQuote, RefundableSale};
use omnitill_core::members::{Conflict, Enrolment};
use omnitill_core::pickups::actions::Verified;
use omnitill_core::review::Refusal;
use omnitill_core::{Discount, Language, Settings, StaffSession};
use omnitill_protocol::loyalty::History;
use tauri::{AppHandle, State};

use crate::args::{Lenient, optional, required};
use crate::state::AppState;

type Arg<T> = Option<Lenient<T>>;

#[tauri::command]
pub async fn app_status(state: State<'_, AppState>) -> Reply<AppStatus> {
    state.app.status()
}

/// Called once by the UI after its first screen has rendered.
#[tauri::command]
pub async fn ui_ready(app: AppHandle, state: State<'_, AppState>) -> Reply<()> {
    if !state.ready_reported.swap(true, Ordering::SeqCst) {
        println!("OMNITILL_READY ms={}", state.started.elapsed().as_millis());
        if state.options.exit_when_ready {
            app.exit(0);
        }
    }
    Ok(())
}

#[tauri::command]
pub async fn login(
    state: State<'_, AppState>,
    staff_code: Arg<String>,
    pin: Arg<String>,
) -> Reply<StaffSession> {
    let (code, pin) = (required("staffCode", staff_code)?, required("pin", pin)?);
    state.app.login(&code, &pin)
}

#[tauri::command]
pub async fn lock(state: State<'_, AppState>) -> Reply<()> {
    state.app.lock()
}

#[tauri::command]
pub async fn cart_get(state: State<'_, AppState>) -> Reply<CartView> {
    state.app.cart()
}

#[tauri::command]
pub async fn cart_scan(state: State<'_, AppState>, code: Arg<String>) -> Reply<CartView> {
    state.app.scan_item(&required("code", code)?)
}

#[tauri::command]
pub async fn checkout_scan(state: State<'_, AppState>, code: Arg<String>) -> Reply<ScanOutcome> {
    state.app.checkout_scan(&required("code", code)?).await
}

#[tauri::command]
pub async fn cart_add_product(state: State<'_, AppState>, product_id: Arg<i64>) -> Reply<CartView> {
    state.app.add_product(required("productId", product_id)?)
}

#[tauri::command]
pub async fn cart_set_quantity(
    state: State<'_, AppState>,
    line_id: Arg<u32>,
    quantity: Arg<i64>,
) -> Reply<CartView> {
    let (line_id, quantity) = (
        required("lineId", line_id)?,
        required("quantity", quantity)?,
    );
    state.app.set_quantity(line_id, quantity)
}

#[tauri::command]
pub async fn cart_remove_line(state: State<'_, AppState>, line_id: Arg<u32>) -> Reply<CartView> {
    state.app.remove_line(required("lineId", line_id)?)
}

#[tauri::command]
pub async fn cart_set_line_discount(
    state: State<'_, AppState>,
    line_id: Arg<u32>,
    discount: Arg<Option<Discount>>,
) -> Reply<CartView> {
    let line_id = required("lineId", line_id)?;
    state
        .app
        .set_line_discount(line_id, optional("discount", discount)?)
}

#[tauri::command]
pub async fn cart_set_cart_discount(
    state: State<'_, AppState>,
    discount: Arg<Option<Discount>>,
) -> Reply<CartView> {
    state.app.set_cart_discount(optional("discount", discount)?)
}

#[tauri::command]
pub async fn cart_clear(state: State<'_, AppState>) -> Reply<CartView> {
    state.app.clear_cart().await
}

#[tauri::command]
pub async fn cart_add_tender(
    state: State<'_, AppState>,
    kind: Arg<String>,
    amount_minor: Arg<i64>,
    reference: Arg<Option<String>>,
) -> Reply<CartView> {
    let (kind, amount) = (
        required("kind", kind)?,
        required("amountMinor", amount_minor)?,
    );
    let reference = optional("reference", reference)?;
    state.app.add_tender(&kind, amount, reference.as_deref())
}

#[tauri::command]
pub async fn cart_remove_tender(state: State<'_, AppState>, index: Arg<usize>) -> Reply<CartView> {
    state.app.remove_tender(required("index", index)?).await
}

#[tauri::command]
pub async fn sale_complete(state: State<'_, AppState>) -> Reply<ReceiptView> {
    state.app.complete_sale()
}

#[tauri::command]
pub async fn catalog_search(
    state: State<'_, AppState>,
    query: Arg<String>,
) -> Reply<Vec<ProductHit>> {
    state.app.search_catalog(&required("query", query)?)
}

#[tauri::command]
pub async fn receipt_get(
    state: State<'_, AppState>,
    receipt_no: Arg<String>,
) -> Reply<ReceiptView> {
    state.app.receipt(&required("receiptNo", receipt_no)?)
}

#[tauri::command]
pub async fn receipt_print(state: State<'_, AppState>, receipt_no: Arg<String>) -> Reply<()> {
    state
        .app
        .print_receipt(&required("receiptNo", receipt_no)?)
        .await
}

#[tauri::command]
pub async fn receipts_recent(state: State<'_, AppState>) -> Reply<Vec<ReceiptSummary>> {
    state.app.recent_receipts()
}

#[tauri::command]
pub async fn refusals_list(
    state: State<'_, AppState>,
    include_reviewed: Arg<bool>,
) -> Reply<Vec<Refusal>> {
    state
        .app
        .refusals(required("includeReviewed", include_reviewed)?)
}

#[tauri::command]
pub async fn refusal_review(
    state: State<'_, AppState>,
    seq: Arg<i64>,
    note: Arg<String>,
) -> Reply<Refusal> {
    let (seq, note) = (required("seq", seq)?, required("note", note)?);
    state.app.review_refusal(seq, &note)
}

#[tauri::command]
pub async fn refund_lookup(
    state: State<'_, AppState>,
    receipt_no: Arg<String>,
) -> Reply<RefundableSale> {
    state.app.refundable(&required("receiptNo", receipt_no)?)
}

#[tauri::command]
pub async fn refund_quote(
    state: State<'_, AppState>,
    receipt_no: Arg<String>,
    lines: Arg<Vec<RefundLineRequest>>,
) -> Reply<RefundQuote> {
    let receipt_no = required("receiptNo", receipt_no)?;
    state
        .app
        .refund_quote(&receipt_no, &required("lines", lines)?)
}

#[tauri::command]
pub async fn refund_complete(
    state: State<'_, AppState>,
    request: Arg<RefundRequest>,
) -> Reply<ReceiptView> {
    state.app.refund(&required("request", request)?)
}

#[tauri::command]
pub async fn settings_update(
    state: State<'_, AppState>,
    settings: Arg<Settings>,
) -> Reply<Settings> {
    state.app.update_settings(&required("settings", settings)?)
}

#[tauri::command]
pub async fn set_language(state: State<'_, AppState>, language: Arg<Language>) -> Reply<Settings> {
    state.app.set_language(required("language", language)?)
}

/// Enrols this till with the brand's cloud, then answers with the till's new status.
#[tauri::command]
pub async fn enrol(
    state: State<'_, AppState>,
    cloud_url: Arg<String>,
    code: Arg<String>,
) -> Reply<AppStatus> {
    let (cloud_url, code) = (required("cloudUrl", cloud_url)?, required("code", code)?);
    state.app.enrol_till(&cloud_url, &code).await?;
    state.app.status()
}

#[tauri::command]
pub async fn member_attach(state: State<'_, AppState>, input: Arg<String>) -> Reply<CartView> {
    state.app.attach_member(&required("input", input)?).await
}

#[tauri::command]
pub async fn member_enrol(state: State<'_, AppState>, request: Arg<Enrolment>) -> Reply<CartView> {
    state.app.enrol_member(&required("request", request)?)
}

#[tauri::command]
pub async fn member_history(state: State<'_, AppState>) -> Reply<History> {
    state.app.member_history().await
}

#[tauri::command]
pub async fn member_detach(state: State<'_, AppState>) -> Reply<CartView> {
    state.app.detach_member().await
}

#[tauri::command]
pub async fn cart_apply_coupon(
    state: State<'_, AppState>,
    coupon_id: Arg<String>,
) -> Reply<CartView> {
    state
        .app
        .apply_coupon(&required("couponId", coupon_id)?)
        .await
}

#[tauri::command]
pub async fn cart_remove_coupon(state: State<'_, AppState>) -> Reply<CartView> {
    state.app.remove_coupon().await
}

#[tauri::command]
pub async fn cart_pay_points(state: State<'_, AppState>, points: Arg<i64>) -> Reply<CartView> {
    state.app.pay_with_points(required("points", points)?).await
}

#[tauri::command]
pub async fn member_conflicts(
    state: State<'_, AppState>,
    include_resolved: Arg<bool>,
) -> Reply<Vec<Conflict>> {
    state
        .app
        .member_conflicts(required("includeResolved", include_resolved)?)
}

#[tauri::command]
pub async fn conflict_resolve(
    state: State<'_, AppState>,
    conflict_id: Arg<String>,
    note: Arg<String>,
) -> Reply<Conflict> {
    let (conflict_id, note) = (
        required("conflictId", conflict_id)?,
        required("note", note)?,
    );
    state.app.resolve_conflict(&conflict_id, &note)
}

#[tauri::command]
pub async fn pickup_queue(state: State<'_, AppState>, tab: Arg<String>) -> Reply<PickupQueue> {
    state.app.pickup_queue(&required("tab", tab)?)
}

#[tauri::command]
pub async fn pickup_order(state: State<'_, AppState>, order_id: Arg<String>) -> Reply<PickupCard> {
    state.app.pickup_order(&required("orderId", order_id)?)
}

#[tauri::command]
pub async fn pickup_find(state: State<'_, AppState>, input: Arg<String>) -> Reply<FoundPickup> {
    state.app.find_pickup(&required("input", input)?)
}

#[tauri::command]
pub async fn pickup_scan(
    state: State<'_, AppState>,
    order_id: Arg<String>,
    code: Arg<String>,
) -> Reply<PickupCard> {
    let (order_id, code) = (required("orderId", order_id)?, required("code", code)?);
    state.app.scan_for_pickup(&order_id, &code)
}

#[tauri::command]
pub async fn pickup_mark_line(
    state: State<'_, AppState>,
    order_id: Arg<String>,
    line_no: Arg<i64>,
    missing_reason: Arg<Option<String>>,
) -> Reply<PickupCard> {
    let (order_id, line_no) = (required("orderId", order_id)?, required("lineNo", line_no)?);
    let reason = optional("missingReason", missing_reason)?;
    state
        .app
        .mark_pickup_line(&order_id, line_no, reason.as_deref())
}

#[tauri::command]
pub async fn pickup_put_back(
    state: State<'_, AppState>,
    order_id: Arg<String>,
    line_no: Arg<i64>,
) -> Reply<PickupCard> {
    let (order_id, line_no) = (required("orderId", order_id)?, required("lineNo", line_no)?);
    state.app.put_back_pickup_line(&order_id, line_no)
}

#[tauri::command]
pub async fn pickup_ready(state: State<'_, AppState>, order_id: Arg<String>) -> Reply<PickupCard> {
    state.app.mark_pickup_ready(&required("orderId", order_id)?)
}

#[tauri::command]
pub async fn pickup_hand_over(
    state: State<'_, AppState>,
    order_id: Arg<String>,
    verified: Arg<Verified>,
) -> Reply<PickupCard> {
    let (order_id, verified) = (
        required("orderId", order_id)?,
        required("verified", verified)?,
    );
    state.app.hand_over_pickup(&order_id, verified)
}

#[tauri::command]
pub async fn pickup_checkout(
    state: State<'_, AppState>,
    order_id: Arg<String>,
    verified: Arg<Verified>,
) -> Reply<CartView> {
    let (order_id, verified) = (
        required("orderId", order_id)?,
        required("verified", verified)?,
    );
    state.app.pickup_checkout(&order_id, verified)
}

#[tauri::command]
pub async fn member_floor(state: State<'_, AppState>) -> Reply<FloorView> {
    state.app.member_floor().await
}
