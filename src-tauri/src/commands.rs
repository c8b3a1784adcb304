//! The IPC commands, one per use case in `ui/src/lib/api.ts`.
//!
//! Each command decodes its arguments leniently (a malformed call is a `bad_input` error, never
//! a panic), calls one core function on the shell, and maps the result to a view. Rules,
//! permissions and prices are core's business.

use std::sync::atomic::Ordering;
use std::time::Duration;

use omnitill_core::catalog::ProductHit;
use omnitill_core::ledger::{ReceiptSummary, RefundQuote, RefundableSale};
use omnitill_core::review::Refusal;
use omnitill_core::scan::ScanKind;
use omnitill_core::{Discount, Language, Settings, StaffSession, StoreInfo, TenderKind, escpos};
use omnitill_sync::engine::LinkState;
use serde::{Deserialize, Serialize};
use tauri::{AppHandle, State};

use crate::args::{Lenient, optional, required};
use crate::checkout::{edit_cart, wake_sync};
use crate::error::{ApiError, ErrorCode, Reply};
use crate::printer;
use crate::state::AppState;
use crate::views::{CartView, ReceiptView};

/// How long the receipt printer may take to accept a receipt.
const PRINTER_TIMEOUT: Duration = Duration::from_secs(5);
/// How many receipts the reprint list shows.
const RECENT_RECEIPTS: usize = 30;

#[derive(Debug, Serialize)]
pub struct SyncStatus {
    pub state: LinkState,
    /// Whether the till asks the cloud now (`LinkState::is_up`): the UI's one "online".
    pub online: bool,
    pub pending: i64,
    pub oldest_pending_at: Option<String>,
    pub last_sync_at: Option<String>,
    pub message: Option<String>,
    /// Feed entries downloaded in the current round, and still to download: the first sync's
    /// progress bar. Both 0 when no download is under way.
    pub downloaded: i64,
    pub remaining: i64,
    /// Downloaded products not yet indexed for search: found by a slower direct search until
    /// then.
    pub search_waiting: i64,
    /// Operations the cloud refused that no manager has reviewed yet, and member conflicts
    /// not yet resolved.
    pub needs_review: i64,
    /// The cloud was restored from a backup and forgot operations: how many of them are still
    /// being sent again, of how many. Both 0 otherwise.
    pub resending: i64,
    pub resend_total: i64,
}

#[derive(Debug, Serialize)]
pub struct AppStatus {
    pub error: Option<ApiError>,
    pub store: Option<StoreInfo>,
    pub settings: Option<Settings>,
    pub receipt_prefix: Option<String>,
    pub session: Option<StaffSession>,
    pub sync: SyncStatus,
}

#[tauri::command]
pub async fn app_status(state: State<'_, AppState>) -> Reply<AppStatus> {
    // A ledger found damaged after start shows the same way as one refused at start: only
    // the damaged-ledger screen, with what the manager does.
    // The screen keeps the till's language: settings are read, as far as they can be.
    let (damaged, settings) = match &state.shell {
        Some(_) => state.with_shell(|shell| {
            Ok((
                shell.till.ensure_writable().err(),
                shell.till.settings().ok(),
            ))
        })?,
        None => (None, None),
    };
    if state.shell.is_none() || damaged.is_some() {
        let settings = if damaged.is_some() { settings } else { None };
        return Ok(AppStatus {
            error: damaged
                .map(ApiError::from)
                .or_else(|| state.startup_error.clone()),
            store: None,
            settings,
            receipt_prefix: None,
            session: None,
            sync: SyncStatus {
                state: LinkState::NotConfigured,
                online: false,
                pending: 0,
                oldest_pending_at: None,
                last_sync_at: None,
                message: None,
                downloaded: 0,
                remaining: 0,
                search_waiting: 0,
                needs_review: 0,
                resending: 0,
                resend_total: 0,
            },
        });
    }
    let engine = state
        .sync
        .as_ref()
        .filter(|s| s.is_started())
        .map(|s| s.status());
    state.with_shell(|shell| {
        // Enrolment on the engine's connection changes the receipt prefix.
        shell.till.reload_device()?;
        let (pending, oldest) = shell.till.pending_operations()?;
        let link = shell.till.sync_link()?;
        let link_state = match (&link, &engine) {
            (None, _) => LinkState::NotConfigured,
            (Some(l), _) if l.revoked => LinkState::Revoked,
            (Some(_), Some(engine)) => engine.state,
            (Some(_), None) => LinkState::Offline,
        };
        let at = |ms: i64| chrono::DateTime::from_timestamp_millis(ms).map(|at| at.to_rfc3339());
        Ok(AppStatus {
            error: None,
            store: Some(shell.till.store()?),
            settings: Some(shell.till.settings()?),
            receipt_prefix: Some(shell.till.device().receipt_prefix.clone()),
            session: shell.session.clone(),
            sync: SyncStatus {
                state: link_state,
                online: link_state.is_up(),
                pending,
                oldest_pending_at: oldest.and_then(at),
                last_sync_at: link.and_then(|l| l.last_sync_at).and_then(at),
                needs_review: shell.till.unreviewed_refusals()?
                    + shell.till.open_member_conflicts()?,
                downloaded: engine.as_ref().map_or(0, |e| e.downloaded),
                remaining: engine.as_ref().map_or(0, |e| e.remaining),
                search_waiting: engine.as_ref().map_or(0, |e| e.search_waiting),
                resending: engine.as_ref().map_or(0, |e| e.resending),
                resend_total: engine.as_ref().map_or(0, |e| e.resend_total),
                message: engine.and_then(|e| e.message),
            },
        })
    })
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
    staff_code: Option<Lenient<String>>,
    pin: Option<Lenient<String>>,
) -> Reply<StaffSession> {
    let code = required("staffCode", staff_code)?;
    let pin = required("pin", pin)?;
    state.with_shell(|shell| {
        let session = shell.till.login(&code, &pin)?;
        shell.session = Some(session.clone());
        Ok(session)
    })
}

#[tauri::command]
pub async fn lock(state: State<'_, AppState>) -> Reply<()> {
    state.with_shell(|shell| {
        shell.till.record_lock(shell.session.as_ref())?;
        shell.session = None;
        Ok(())
    })
}

#[tauri::command]
pub async fn cart_get(state: State<'_, AppState>) -> Reply<CartView> {
    edit_cart(&state, |_| Ok(()))
}

#[tauri::command]
pub async fn cart_scan(
    state: State<'_, AppState>,
    code: Option<Lenient<String>>,
) -> Reply<CartView> {
    let code = required("code", code)?;
    add_scanned_item(&state, &code)
}

fn add_scanned_item(state: &AppState, code: &str) -> Reply<CartView> {
    edit_cart(state, |shell| {
        let item = shell.till.scan(code)?;
        shell.cart.add_item(item, 1)?;
        Ok(())
    })
}

/// What a scan at checkout did: core's classification of the code, and the cart after it.
#[derive(Debug, Serialize)]
pub struct ScanOutcome {
    pub kind: ScanKind,
    pub cart: CartView,
}

/// A code scanned or typed into the checkout's scan field: core classifies it (`scan::classify`);
/// a member's card or QR token attaches the member, anything else is an item to add.
#[tauri::command]
pub async fn checkout_scan(
    state: State<'_, AppState>,
    code: Option<Lenient<String>>,
) -> Reply<ScanOutcome> {
    let code = required("code", code)?;
    let kind = omnitill_core::scan::classify(&code);
    let cart = if kind.is_member() {
        crate::members::attach(&state, code.trim()).await?
    } else {
        add_scanned_item(&state, &code)?
    };
    Ok(ScanOutcome { kind, cart })
}

#[tauri::command]
pub async fn cart_add_product(
    state: State<'_, AppState>,
    product_id: Option<Lenient<i64>>,
) -> Reply<CartView> {
    let product_id = required("productId", product_id)?;
    edit_cart(&state, |shell| {
        let item = shell.till.item(product_id)?;
        shell.cart.add_item(item, 1)?;
        Ok(())
    })
}

#[tauri::command]
pub async fn cart_set_quantity(
    state: State<'_, AppState>,
    line_id: Option<Lenient<u32>>,
    quantity: Option<Lenient<i64>>,
) -> Reply<CartView> {
    let line_id = required("lineId", line_id)?;
    let quantity = required("quantity", quantity)?;
    edit_cart(&state, |shell| {
        Ok(shell.cart.set_quantity(line_id, quantity)?)
    })
}

#[tauri::command]
pub async fn cart_remove_line(
    state: State<'_, AppState>,
    line_id: Option<Lenient<u32>>,
) -> Reply<CartView> {
    let line_id = required("lineId", line_id)?;
    edit_cart(&state, |shell| Ok(shell.cart.remove_line(line_id)?))
}

#[tauri::command]
pub async fn cart_set_line_discount(
    state: State<'_, AppState>,
    line_id: Option<Lenient<u32>>,
    discount: Option<Lenient<Option<Discount>>>,
) -> Reply<CartView> {
    let line_id = required("lineId", line_id)?;
    let discount = optional("discount", discount)?;
    edit_cart(&state, |shell| {
        Ok(shell.cart.set_line_discount(line_id, discount)?)
    })
}

#[tauri::command]
pub async fn cart_set_cart_discount(
    state: State<'_, AppState>,
    discount: Option<Lenient<Option<Discount>>>,
) -> Reply<CartView> {
    let discount = optional("discount", discount)?;
    edit_cart(&state, |shell| {
        Ok(shell.cart.set_cart_discount(discount)?)
    })
}

#[tauri::command]
pub async fn cart_clear(state: State<'_, AppState>) -> Reply<CartView> {
    crate::members::edit_cart_releasing(&state, |shell| {
        shell.cart = omnitill_core::Cart::new();
        Ok(())
    })
    .await
}

#[tauri::command]
pub async fn cart_add_tender(
    state: State<'_, AppState>,
    kind: Option<Lenient<String>>,
    amount_minor: Option<Lenient<i64>>,
    reference: Option<Lenient<Option<String>>>,
) -> Reply<CartView> {
    let kind_text = required("kind", kind)?;
    let kind = TenderKind::parse(&kind_text).ok_or_else(|| {
        ApiError::bad_input(format!("tender kind {kind_text:?} is not cash or card"))
    })?;
    let amount = required("amountMinor", amount_minor)?;
    let reference = optional("reference", reference)?;
    edit_cart(&state, |shell| {
        let rules = shell.till.pricing_rules()?;
        Ok(shell
            .cart
            .add_tender(rules, kind, amount, reference.as_deref())?)
    })
}

#[tauri::command]
pub async fn cart_remove_tender(
    state: State<'_, AppState>,
    index: Option<Lenient<usize>>,
) -> Reply<CartView> {
    let index = required("index", index)?;
    crate::members::edit_cart_releasing(&state, |shell| Ok(shell.cart.remove_tender(index)?)).await
}

#[tauri::command]
pub async fn sale_complete(state: State<'_, AppState>) -> Reply<ReceiptView> {
    state
        .with_shell(|shell| {
            let session = shell.session()?;
            let receipt = shell.till.complete_sale(&session, &shell.cart)?;
            shell.cart = omnitill_core::Cart::new();
            Ok(ReceiptView::new(receipt))
        })
        .inspect(|_| wake_sync(&state))
}

#[tauri::command]
pub async fn catalog_search(
    state: State<'_, AppState>,
    query: Option<Lenient<String>>,
) -> Reply<Vec<ProductHit>> {
    let query = required("query", query)?;
    state.with_shell(|shell| {
        shell.session()?;
        Ok(shell.till.search(&query)?)
    })
}

#[tauri::command]
pub async fn receipt_get(
    state: State<'_, AppState>,
    receipt_no: Option<Lenient<String>>,
) -> Reply<ReceiptView> {
    let receipt_no = required("receiptNo", receipt_no)?;
    state.with_shell(|shell| {
        shell.session()?;
        Ok(ReceiptView::new(shell.till.receipt(&receipt_no)?))
    })
}

/// Renders the receipt under the lock, then sends it to the printer without holding it.
#[tauri::command]
pub async fn receipt_print(
    state: State<'_, AppState>,
    receipt_no: Option<Lenient<String>>,
) -> Reply<()> {
    let receipt_no = required("receiptNo", receipt_no)?;
    let (address, bytes) = state.with_shell(|shell| {
        shell.session()?;
        let address = shell.till.settings()?.printer_address.ok_or_else(|| {
            ApiError::new(
                ErrorCode::Printer,
                "no receipt printer is set up: add its address in Settings",
            )
        })?;
        Ok((
            address,
            escpos::render_escpos(&shell.till.receipt(&receipt_no)?),
        ))
    })?;
    tauri::async_runtime::spawn_blocking(move || {
        printer::send_to_printer(&address, &bytes, PRINTER_TIMEOUT)
    })
    .await
    .map_err(|e| ApiError::new(ErrorCode::Internal, format!("printing stopped: {e}")))?
    .map_err(|e| ApiError::new(ErrorCode::Printer, e.to_string()))
}

#[tauri::command]
pub async fn receipts_recent(state: State<'_, AppState>) -> Reply<Vec<ReceiptSummary>> {
    state.with_shell(|shell| {
        shell.session()?;
        Ok(shell.till.recent_receipts(RECENT_RECEIPTS)?)
    })
}

/// The manager's review list of operations the cloud refused: those to review, or all.
#[tauri::command]
pub async fn refusals_list(
    state: State<'_, AppState>,
    include_reviewed: Option<Lenient<bool>>,
) -> Reply<Vec<Refusal>> {
    let include_reviewed = required("includeReviewed", include_reviewed)?;
    state.with_shell(|shell| {
        let session = shell.session()?;
        Ok(shell.till.refusals(&session, include_reviewed)?)
    })
}

/// A manager marks a refused operation reviewed, with a note of what was done about it.
#[tauri::command]
pub async fn refusal_review(
    state: State<'_, AppState>,
    seq: Option<Lenient<i64>>,
    note: Option<Lenient<String>>,
) -> Reply<Refusal> {
    let seq = required("seq", seq)?;
    let note = required("note", note)?;
    state.with_shell(|shell| {
        let session = shell.session()?;
        Ok(shell.till.mark_refusal_reviewed(&session, seq, &note)?)
    })
}

#[tauri::command]
pub async fn refund_lookup(
    state: State<'_, AppState>,
    receipt_no: Option<Lenient<String>>,
) -> Reply<RefundableSale> {
    let receipt_no = required("receiptNo", receipt_no)?;
    state.with_shell(|shell| {
        shell.session()?;
        Ok(shell.till.refundable(&receipt_no)?)
    })
}

/// What refunding `lines` of a past sale would give back, as core computes it (the screen
/// shows this, not its own arithmetic).
#[tauri::command]
pub async fn refund_quote(
    state: State<'_, AppState>,
    receipt_no: Option<Lenient<String>>,
    lines: Option<Lenient<Vec<RefundLineRequest>>>,
) -> Reply<RefundQuote> {
    let receipt_no = required("receiptNo", receipt_no)?;
    let lines: Vec<(i64, i64)> = required("lines", lines)?
        .iter()
        .map(|l| (l.line_no, l.quantity))
        .collect();
    state.with_shell(|shell| {
        shell.session()?;
        Ok(shell.till.refund_quote(&receipt_no, &lines)?)
    })
}

#[derive(Debug, Deserialize)]
pub struct RefundLineRequest {
    pub line_no: i64,
    pub quantity: i64,
}

#[derive(Debug, Deserialize)]
pub struct RefundRequest {
    pub receipt_no: String,
    pub lines: Vec<RefundLineRequest>,
    pub manager_code: String,
    pub manager_pin: String,
}

#[tauri::command]
pub async fn refund_complete(
    state: State<'_, AppState>,
    request: Option<Lenient<RefundRequest>>,
) -> Reply<ReceiptView> {
    let request = required("request", request)?;
    state.with_shell(|shell| {
        let session = shell.session()?;
        let approval = shell
            .till
            .approve_as_manager(&request.manager_code, &request.manager_pin)?;
        let lines: Vec<(i64, i64)> = request
            .lines
            .iter()
            .map(|l| (l.line_no, l.quantity))
            .collect();
        Ok(ReceiptView::new(shell.till.refund(
            &session,
            &approval,
            &request.receipt_no,
            &lines,
        )?))
    })
}

#[tauri::command]
pub async fn settings_update(
    state: State<'_, AppState>,
    settings: Option<Lenient<Settings>>,
) -> Reply<Settings> {
    let settings = required("settings", settings)?;
    state.with_shell(|shell| {
        let session = shell.session()?;
        Ok(shell.till.update_settings(&session, &settings)?)
    })
}

#[tauri::command]
pub async fn set_language(
    state: State<'_, AppState>,
    language: Option<Lenient<Language>>,
) -> Reply<Settings> {
    let language = required("language", language)?;
    state.with_shell(|shell| Ok(shell.till.set_language(language)?))
}

/// Enrols this till with the brand's cloud: a manager types the cloud's address and a one-time
/// code. The request runs without holding the till; only recording it takes the lock.
#[tauri::command]
pub async fn enrol(
    state: State<'_, AppState>,
    cloud_url: Option<Lenient<String>>,
    code: Option<Lenient<String>>,
) -> Reply<AppStatus> {
    let cloud_url = required("cloudUrl", cloud_url)?.trim().to_owned();
    let code = required("code", code)?;
    // The sync client's rule for what may carry the till's token, said before anything else.
    omnitill_sync::client::check_cloud_url(&cloud_url)
        .map_err(|e| ApiError::bad_input(e.to_string()))?;
    let (name, first_seq, identity) = state.with_shell(|shell| {
        let session = shell.session()?;
        omnitill_core::ManagerApproval::from_session(&session)?;
        Ok((
            shell.till.store()?.name,
            shell.till.first_unacknowledged_seq()?,
            shell.till.till_identity()?,
        ))
    })?;
    let client = omnitill_sync::Client::new(&cloud_url, None)
        .map_err(|e| ApiError::new(ErrorCode::Sync, e.to_string()))?;
    let enrolment = client
        .enrol(&code, &format!("Till at {name}"), first_seq, &identity)
        .await
        .map_err(|e| ApiError::new(ErrorCode::Sync, e.to_string()))?;
    state.with_shell(|shell| {
        let now = shell.till.clock().now();
        shell.till.record_enrolment(&cloud_url, &enrolment, now)?;
        Ok(())
    })?;
    if let Some(sync) = &state.sync {
        sync.start(None)?;
        sync.wake();
    }
    app_status(state).await
}
