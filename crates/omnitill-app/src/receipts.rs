//! Past sales: a receipt shown, reprinted or listed, and a refund quoted and made.
//!
//! The refund screen shows core's quote (`refund_quote`), the very figures the refund will
//! give back, never its own arithmetic. A refund needs a manager's code and PIN.

use std::time::Duration;

use omnitill_core::escpos;
use omnitill_core::ledger::{ReceiptSummary, RefundQuote, RefundableSale};
use serde::Deserialize;
use ts_rs::TS;

use crate::app::App;
use crate::cloud::Cloud;
use crate::error::{ApiError, ErrorCode, Reply};
use crate::printer;
use crate::views::ReceiptView;

/// How long the receipt printer may take to accept a receipt.
const PRINTER_TIMEOUT: Duration = Duration::from_secs(5);
/// How many receipts the reprint list shows.
const RECENT_RECEIPTS: usize = 30;

/// One line of a refund: the sale's line number and how many units go back.
#[derive(Debug, Clone, Deserialize, TS)]
pub struct RefundLineRequest {
    pub line_no: i64,
    pub quantity: i64,
}

/// A refund as the refund screen sends it, with the approving manager's code and PIN.
#[derive(Debug, Clone, Deserialize, TS)]
pub struct RefundRequest {
    pub receipt_no: String,
    pub lines: Vec<RefundLineRequest>,
    pub manager_code: String,
    pub manager_pin: String,
}

fn line_pairs(lines: &[RefundLineRequest]) -> Vec<(i64, i64)> {
    lines.iter().map(|l| (l.line_no, l.quantity)).collect()
}

impl<C: Cloud> App<C> {
    pub fn receipt(&self, receipt_no: &str) -> Reply<ReceiptView> {
        self.with_desk(|desk| {
            desk.session()?;
            Ok(ReceiptView::new(desk.till.receipt(receipt_no)?))
        })
    }

    /// The most recent receipts, newest first, for the reprint list.
    pub fn recent_receipts(&self) -> Reply<Vec<ReceiptSummary>> {
        self.with_desk(|desk| {
            desk.session()?;
            Ok(desk.till.recent_receipts(RECENT_RECEIPTS)?)
        })
    }

    /// Renders the receipt under the lock, then sends it to the printer set in settings
    /// without holding it (on a blocking thread of the current runtime).
    pub async fn print_receipt(&self, receipt_no: &str) -> Reply<()> {
        let (address, bytes) = self.with_desk(|desk| {
            desk.session()?;
            let address = desk.till.settings()?.printer_address.ok_or_else(|| {
                ApiError::new(
                    ErrorCode::Printer,
                    "no receipt printer is set up: add its address in Settings",
                )
            })?;
            Ok((
                address,
                escpos::render_escpos(&desk.till.receipt(receipt_no)?),
            ))
        })?;
        tokio::task::spawn_blocking(move || {
            printer::send_to_printer(&address, &bytes, PRINTER_TIMEOUT)
        })
        .await
        .map_err(|e| ApiError::new(ErrorCode::Internal, format!("printing stopped: {e}")))?
        .map_err(|e| ApiError::new(ErrorCode::Printer, e.to_string()))
    }

    /// A past sale with what of each line is still refundable.
    pub fn refundable(&self, receipt_no: &str) -> Reply<RefundableSale> {
        self.with_desk(|desk| {
            desk.session()?;
            Ok(desk.till.refundable(receipt_no)?)
        })
    }

    /// What refunding `lines` of a past sale would give back, as core computes it.
    pub fn refund_quote(
        &self,
        receipt_no: &str,
        lines: &[RefundLineRequest],
    ) -> Reply<RefundQuote> {
        self.with_desk(|desk| {
            desk.session()?;
            Ok(desk.till.refund_quote(receipt_no, &line_pairs(lines))?)
        })
    }

    /// Refunds lines of a past sale, approved by a manager's code and PIN.
    pub fn refund(&self, request: &RefundRequest) -> Reply<ReceiptView> {
        let receipt = self.with_desk(|desk| {
            let session = desk.session()?;
            let approval = desk
                .till
                .approve_as_manager(&request.manager_code, &request.manager_pin)?;
            Ok(ReceiptView::new(desk.till.refund(
                &session,
                &approval,
                &request.receipt_no,
                &line_pairs(&request.lines),
            )?))
        })?;
        self.cloud.wake_sync();
        Ok(receipt)
    }
}
