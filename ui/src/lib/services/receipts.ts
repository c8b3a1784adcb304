// Receipts after the sale: the recent ones, showing one again for a reprint, sending one to the
// printer, and refunds of an earlier sale (looked up by its receipt number, quoted, and approved
// by a manager). A refund's receipt, like a reprint, is shown on the receipt screen.

import {
  api,
  type Receipt,
  type ReceiptSummary,
  type RefundableSale,
  type RefundLineRequest,
  type RefundQuote,
  type RefundRequest,
} from "../api";
import { app, attempt, clearMessage, showInfo } from "../state.svelte";

export function recentReceipts(): Promise<ReceiptSummary[] | undefined> {
  return attempt(() => api.receiptsRecent());
}

// Shows a receipt again, marked as a reprint. Returns it, or undefined after showing why not.
export async function showReprint(receiptNo: string): Promise<Receipt | undefined> {
  const receipt = await attempt(() => api.receiptGet(receiptNo));
  if (!receipt) return undefined;
  clearMessage();
  app.shown = { receipt, reprint: true };
  app.screen = "receipt";
  return receipt;
}

// Sends a receipt to the till's printer. Returns true once it is printed.
export function printReceipt(receiptNo: string): Promise<boolean | undefined> {
  return attempt(async () => {
    await api.receiptPrint(receiptNo);
    return true;
  });
}

// What of an earlier sale may still be refunded, as the till decides.
export function findRefundable(receiptNo: string): Promise<RefundableSale | undefined> {
  return attempt(() => api.refundLookup(receiptNo));
}

// What a refund of these lines would give back, to the cent. Not queued behind changes and not
// shown in the banner: the refund screen asks again as the quantities change and keeps the
// last quote it had.
export function quoteRefund(receiptNo: string, lines: RefundLineRequest[]): Promise<RefundQuote> {
  return api.refundQuote(receiptNo, lines);
}

// Completes a refund a manager approved; its receipt is shown on the receipt screen. Returns
// the receipt, or undefined after showing why not.
export async function completeRefund(request: RefundRequest): Promise<Receipt | undefined> {
  const receipt = await attempt(() => api.refundComplete(request));
  if (!receipt) return undefined;
  app.shown = { receipt, reprint: false };
  showInfo("msg.refundDone", { no: receipt.receipt_no });
  app.screen = "receipt";
  return receipt;
}
