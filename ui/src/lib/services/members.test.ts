import { beforeEach, describe, expect, it, vi } from "vitest";
import { app } from "../state.svelte";
import { answer, callsOf, cart, line, refuse, resetApp, resetTill } from "./fixtures";
import { applyCoupon, attachMember, enrolMember } from "./members";

vi.mock("@tauri-apps/api/core", () => ({ invoke: vi.fn() }));

beforeEach(() => {
  resetTill();
  resetApp();
});

describe("member changes", () => {
  it("keep the cart the till answers with", async () => {
    const attached = cart([line(1)], { discount_minor: 10 });
    app.cart = cart([line(1)]);
    answer("member_attach", attached);
    const result = await attachMember("0912345678");
    expect(callsOf("member_attach"), "the till finds the member from what was typed").toEqual([
      { input: "0912345678" },
    ]);
    expect(app.cart, "the sale shows the member and their discount").toBe(attached);
    expect(result, "the dialog learns it went through").toBe(attached);
  });

  it("send the enrolment as entered", async () => {
    const request = {
      name: "Mei",
      phone: "0912345678",
      email: null,
      birthday: null,
      consent_terms: true,
      consent_marketing: false,
    };
    answer("member_enrol", cart());
    await enrolMember(request);
    expect(callsOf("member_enrol"), "the till gets the form as the cashier filled it").toEqual([
      { request },
    ]);
  });

  it("read the cart again after a refusal, and keep the refusal on screen", async () => {
    app.cart = cart([line(1)]);
    const reread = cart([line(1)], { total_minor: 90 });
    refuse("cart_apply_coupon", "coupon_unavailable");
    answer("cart_get", reread);
    const result = await applyCoupon("C1");
    expect(result, "a refusal is an undefined answer").toBeUndefined();
    await vi.waitFor(() =>
      expect(app.cart, "a sync may have changed the member: show them as they are now").toBe(reread),
    );
    expect(app.message?.code, "the cashier still sees why the coupon was refused").toBe(
      "coupon_unavailable",
    );
  });

  it("keep the cart when it cannot be read again after a refusal", async () => {
    const before = cart([line(1)]);
    app.cart = before;
    refuse("cart_apply_coupon", "coupon_unavailable");
    refuse("cart_get", "internal");
    await applyCoupon("C1");
    await vi.waitFor(() => expect(callsOf("cart_get"), "the cart is asked for again").toHaveLength(1));
    await Promise.resolve();
    expect(app.cart, "nothing better to show than the cart already shown").toBe(before);
    expect(app.message?.code, "the refusal is not replaced by the failed re-read").toBe(
      "coupon_unavailable",
    );
  });
});
