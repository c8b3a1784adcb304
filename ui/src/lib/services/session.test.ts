import { beforeEach, describe, expect, it, vi } from "vitest";
import { app, showWarning } from "../state.svelte";
import { answer, hold, receipt, refuse, resetApp, resetTill, staff, status } from "./fixtures";
import { lockTill, logIn, openCheckout, refreshStatus } from "./session";

vi.mock("@tauri-apps/api/core", () => ({ invoke: vi.fn() }));

beforeEach(() => {
  resetTill();
  resetApp();
});

describe("logIn", () => {
  it("notes the session at once and answers who signed in", async () => {
    app.screen = "login";
    app.status = status({ session: null });
    const manager = staff("manager");
    answer("login", manager);
    expect(await logIn("9", "1234"), "the sign-in screen learns it went through").toBe(manager);
    expect(app.status?.session, "the header shows who signed in").toBe(manager);
    expect(app.isManager, "manager keys are enabled").toBe(true);
  });

  it("stays on the sign-in screen with the refusal shown", async () => {
    app.screen = "login";
    app.status = status({ session: null });
    refuse("login", "wrong_pin");
    expect(await logIn("1", "0000"), "nobody signed in").toBeUndefined();
    expect(app.status?.session, "no session").toBeNull();
    expect(app.message?.code, "the cashier sees why").toBe("wrong_pin");
  });

  it("is not undone by a status read started before it", async () => {
    app.screen = "login";
    app.status = status({ session: null });
    const read = hold("app_status");
    const refreshing = refreshStatus();
    const ann = staff();
    answer("login", ann);
    await logIn("1", "1234");
    read.resolve(status({ session: null }));
    await refreshing;
    expect(app.status?.session, "a stale status must not sign the cashier out again").toBe(ann);
  });
});

describe("openCheckout", () => {
  it("reads the status again and shows the checkout", async () => {
    app.screen = "login";
    const fresh = status();
    answer("app_status", fresh);
    await openCheckout();
    expect(app.status, "the new session's status").toBe(fresh);
    expect(app.screen, "the sale starts").toBe("checkout");
  });
});

describe("lockTill", () => {
  it("shows the sign-in screen even when the till fails to lock", async () => {
    app.status = status();
    app.shown = { receipt: receipt("R-1"), reprint: false };
    app.screen = "receipt";
    showWarning("msg.selectLine");
    refuse("lock", "internal");
    await lockTill();
    expect(app.screen, "a till is never left open by a failed lock").toBe("login");
    expect(app.status?.session, "the session is over").toBeNull();
    expect(app.shown, "the last receipt is not left for the next cashier").toBeNull();
    expect(app.message, "the lock's own failure is shown nowhere").toBeNull();
  });
});

describe("refreshStatus", () => {
  it("shows the error page when the first status read fails", async () => {
    app.screen = "loading";
    refuse("app_status", "ledger_damaged");
    await refreshStatus(true);
    expect(app.screen, "nothing else can work without the till").toBe("fatal");
    expect(app.fatal?.code, "the error page says why").toBe("ledger_damaged");
  });

  it("goes to sign-in when the session ended elsewhere", async () => {
    app.screen = "checkout";
    answer("app_status", status({ session: null }));
    await refreshStatus();
    expect(app.screen, "nobody is signed in any more").toBe("login");
  });
});
