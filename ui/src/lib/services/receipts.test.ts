import { beforeEach, describe, expect, it, vi } from "vitest";
import { app, showWarning } from "../state.svelte";
import { answer, callsOf, receipt, refuse, resetApp, resetTill } from "./fixtures";
import { completeRefund, printReceipt, showReprint } from "./receipts";

vi.mock("@tauri-apps/api/core", () => ({ invoke: vi.fn() }));

beforeEach(() => {
  resetTill();
  resetApp();
});

const request = {
  receipt_no: "R-1",
  lines: [{ line_no: 1, quantity: 1 }],
  manager_code: "9",
  manager_pin: "1234",
};

describe("showReprint", () => {
  it("shows the receipt as a reprint and clears the banner", async () => {
    const old = receipt("R-1");
    app.screen = "receipts";
    showWarning("msg.selectLine");
    answer("receipt_get", old);
    await showReprint("R-1");
    expect(app.shown, "a reprint is marked as one").toEqual({ receipt: old, reprint: true });
    expect(app.screen, "the receipt screen shows it").toBe("receipt");
    expect(app.message, "a message from the list no longer applies").toBeNull();
  });

  it("stays on the list when the receipt is not found", async () => {
    app.screen = "receipts";
    refuse("receipt_get", "not_found");
    expect(await showReprint("R-9"), "no receipt to show").toBeUndefined();
    expect(app.screen, "the cashier can type another number").toBe("receipts");
    expect(app.message?.code, "the banner says it was not found").toBe("not_found");
  });
});

describe("printReceipt", () => {
  it("answers true once the receipt is printed", async () => {
    answer("receipt_print", null);
    expect(await printReceipt("R-1"), "the screen confirms the print").toBe(true);
    expect(callsOf("receipt_print"), "that receipt is printed").toEqual([{ receiptNo: "R-1" }]);
  });

  it("shows a printer fault", async () => {
    refuse("receipt_print", "printer");
    expect(await printReceipt("R-1"), "no confirmation of a failed print").toBeUndefined();
    expect(app.message?.code, "the cashier sees the printer fault").toBe("printer");
  });
});

describe("completeRefund", () => {
  it("shows the refund's receipt", async () => {
    const refund = receipt("F-1", "refund");
    app.screen = "refund";
    answer("refund_complete", refund);
    await completeRefund(request);
    expect(callsOf("refund_complete"), "the till gets the approved refund").toEqual([{ request }]);
    expect(app.shown, "the refund's receipt, not as a reprint").toEqual({
      receipt: refund,
      reprint: false,
    });
    expect(app.screen, "the receipt screen shows what goes back").toBe("receipt");
    expect(app.message?.key, "the banner confirms the refund").toBe("msg.refundDone");
  });

  it("stays on the refund screen when the manager's PIN is wrong", async () => {
    app.screen = "refund";
    refuse("refund_complete", "wrong_pin");
    expect(await completeRefund(request), "no receipt for a refused refund").toBeUndefined();
    expect(app.screen, "the manager can try again").toBe("refund");
    expect(app.shown, "no receipt is shown").toBeNull();
    expect(app.message?.code, "the refund screen picks the field to select from this").toBe("wrong_pin");
  });
});
