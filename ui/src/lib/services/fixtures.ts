// For the services' tests only: a fake till behind `invoke` (each test file mocks
// @tauri-apps/api/core, and this answers its calls), the till's answers with plain defaults,
// and a reset of the shared state between tests.

import { invoke, type InvokeArgs } from "@tauri-apps/api/core";
import { vi } from "vitest";
import type {
  AppStatus,
  Cart,
  CartLine,
  ErrorCode,
  MemberConflict,
  Receipt,
  Refusal,
  Settings,
  Staff,
} from "../api";
import { app, clearMessage } from "../state.svelte";

type Reply = (args: InvokeArgs | undefined) => Promise<unknown>;

const replies = new Map<string, Reply>();

// Makes the mocked `invoke` answer as the till set up with `answer`, `refuse` and `hold`; a
// command not set up fails, so that a test notices a call it did not expect.
export function resetTill() {
  replies.clear();
  vi.mocked(invoke).mockReset();
  vi.mocked(invoke).mockImplementation(((command: string, args?: InvokeArgs) => {
    const reply = replies.get(command);
    return reply ? reply(args) : Promise.reject(new Error(`unexpected command ${command}`));
  }) as typeof invoke);
}

export function answer(command: string, value: unknown) {
  replies.set(command, async () => value);
}

// The command answers each call with the next of `values`.
export function answerInTurn(command: string, ...values: unknown[]) {
  const left = [...values];
  replies.set(command, async () => left.shift());
}

// The till refuses the command as it does: with an ApiError.
export function refuse(command: string, code: ErrorCode, message = "refused by the test") {
  replies.set(command, async () => {
    throw { code, message };
  });
}

// The command's answer waits until the test gives it.
export function hold(command: string): { resolve: (value: unknown) => void } {
  let resolve: (value: unknown) => void = () => {};
  const answered = new Promise<unknown>((r) => (resolve = r));
  replies.set(command, () => answered);
  return { resolve: (value) => resolve(value) };
}

// The arguments of every call of the command so far.
export function callsOf(command: string): (InvokeArgs | undefined)[] {
  return vi
    .mocked(invoke)
    .mock.calls.filter(([name]) => name === command)
    .map(([, args]) => args);
}

export function resetApp() {
  clearMessage();
  app.status = null;
  app.screen = "checkout";
  app.cart = null;
  app.shown = null;
  app.pendingScan = null;
  app.fatal = null;
  app.pickupQueue = null;
  app.pickup = null;
  app.pickupVerified = null;
  app.floor = null;
}

export function line(line_id: number, quantity = 1): CartLine {
  return {
    line_id,
    product_id: line_id,
    sku: `SKU${line_id}`,
    name: `Item ${line_id}`,
    barcode: null,
    quantity,
    unit_price_minor: 100,
    gross_minor: 100 * quantity,
    line_discount: null,
    discount_minor: 0,
    total_minor: 100 * quantity,
    tax_minor: 0,
  };
}

export function cart(lines: CartLine[] = [], partial: Partial<Cart> = {}): Cart {
  const total = lines.reduce((sum, l) => sum + l.total_minor, 0);
  return {
    currency: "EUR",
    lines,
    cart_discount: null,
    subtotal_minor: total,
    discount_minor: 0,
    tax_minor: 0,
    total_minor: total,
    rounding_minor: 0,
    tenders: [],
    paid_minor: 0,
    due_minor: total,
    cash_due_minor: total,
    change_minor: 0,
    fully_paid: false,
    member: null,
    ...partial,
  };
}

export function receipt(receipt_no: string, kind: Receipt["kind"] = "sale"): Receipt {
  return {
    barcode_modules: "101",
    text_lines: [receipt_no],
    kind,
    receipt_no,
    original_receipt_no: null,
    created_at: "2025-03-03T12:00:00+01:00",
    store_name: "Test store",
    staff_name: "Ann",
    approved_by: null,
    currency: "EUR",
    currency_exponent: 2,
    tax_mode: "inclusive",
    lines: [],
    subtotal_minor: 100,
    discount_minor: 0,
    tax_minor: 0,
    rounding_minor: 0,
    total_minor: 100,
    tenders: [],
    change_minor: 0,
    member: null,
  };
}

export function settings(partial: Partial<Settings> = {}): Settings {
  return {
    language: "en",
    idle_lock_seconds: 0,
    printer_address: null,
    cash_rounding_minor: 1,
    tax_mode: "inclusive",
    ...partial,
  };
}

export function staff(role: Staff["role"] = "cashier"): Staff {
  return { id: `${role}-1`, code: "1", name: "Ann", role };
}

export function status(partial: Partial<AppStatus> = {}): AppStatus {
  return {
    error: null,
    store: {
      name: "Test store",
      currency: "EUR",
      currency_exponent: 2,
      tax_mode: "inclusive",
      cash_rounding_minor: 1,
      utc_offset_minutes: 60,
    },
    settings: settings(),
    receipt_prefix: null,
    session: staff(),
    pickups_waiting: 0,
    sync: {
      state: "not_configured",
      online: false,
      pending: 0,
      oldest_pending_at: null,
      last_sync_at: null,
      problem: null,
      message: null,
      downloaded: 0,
      search_waiting: 0,
      remaining: 0,
      needs_review: 0,
      resending: 0,
      resend_total: 0,
    },
    ...partial,
  };
}

export function refusal(seq: number, created_at_ms: number, resolved = false): Refusal {
  return {
    seq,
    op_type: "sale",
    receipt_no: null,
    created_at_ms,
    reason: "refused",
    received_at_ms: created_at_ms,
    resolved_at_ms: resolved ? created_at_ms + 1 : null,
    resolved_by: null,
    note: null,
  };
}

export function conflict(id: string, created_at_ms: number, resolved = false): MemberConflict {
  return {
    id,
    conflict: "overdraft",
    member_id: "m1",
    member_name: null,
    summary: "overdrawn",
    created_at_ms,
    resolved_at_ms: resolved ? created_at_ms + 1 : null,
    note: null,
  };
}
