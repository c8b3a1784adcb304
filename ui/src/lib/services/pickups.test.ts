import { beforeEach, describe, expect, it, vi } from "vitest";
import type { PickupCard, PickupQueue } from "../api";
import { app } from "../state.svelte";
import { answer, callsOf, cart, line, refuse, resetApp, resetTill } from "./fixtures";
import { countOf, findForHandover, handOver, loadPickups, scanForPickup, tabOf } from "./pickups";

vi.mock("@tauri-apps/api/core", () => ({ invoke: vi.fn() }));

beforeEach(() => {
  resetTill();
  resetApp();
});

function card(id: string, status: string, payment = "paid_online"): PickupCard {
  return {
    order: {
      id,
      order_ref: `WEB-${id}`,
      store_id: "store",
      code: "ACD34F",
      status,
      payment,
      member_id: null,
      guest_name: "林小姐",
      contact_masked: null,
      currency: "TWD",
      total_minor: 48_000,
      promised_at_ms: 0,
      expires_at_ms: 0,
      created_at_ms: 0,
      updated_at_ms: 0,
      review: null,
      lines: [],
    },
    tab: "new",
    late: false,
    member_name: null,
    to_put_back: 0,
    lines: [],
  };
}

function queue(tab: string, orders: PickupCard[]): PickupQueue {
  return { tab, counts: [{ tab: "new", count: 3 }, { tab, count: orders.length }], orders, more: 0 };
}

describe("tabOf", () => {
  it("follows the tab the till files the order under", () => {
    expect(tabOf({ ...card("o-1", "partially_collected"), tab: "collected" })).toBe("collected");
    expect(tabOf({ ...card("o-1", "ready"), tab: "ready" })).toBe("ready");
  });
});

describe("loadPickups", () => {
  it("keeps the tab and every count, and the open order follows its newest state", async () => {
    app.pickup = card("o-1", "new");
    answer("pickup_queue", queue("picking", [card("o-1", "picking")]));
    expect(await loadPickups("picking")).toBe(true);
    expect(callsOf("pickup_queue")).toEqual([{ tab: "picking" }]);
    expect(countOf(app.pickupQueue, "new"), "counts of other tabs come along").toBe(3);
    expect(app.pickup?.order.status, "the open order shows its newest state").toBe("picking");
  });

  it("a quiet refresh that fails shows nothing and keeps the queue", async () => {
    app.pickupQueue = queue("new", [card("o-1", "new")]);
    refuse("pickup_queue", "not_logged_in");
    expect(await loadPickups("new", true)).toBe(false);
    expect(app.message, "a background read does not interrupt").toBeNull();
    expect(app.pickupQueue?.orders.length).toBe(1);
  });
});

describe("picking and handover", () => {
  it("a refused scan leaves the open order as it was and says why", async () => {
    app.pickup = card("o-1", "picking");
    refuse("pickup_scan", "pickup_refused", "Sun Moon Lake is not on this order");
    expect(await scanForPickup("4712345000107")).toBeUndefined();
    expect(app.pickup?.order.status).toBe("picking");
    expect(app.message?.code).toBe("pickup_refused");
  });

  it("an order paid online is handed over once its customer showed it", async () => {
    answer("pickup_find", { card: card("o-1", "ready"), verified: "code" });
    await findForHandover("acd34f");
    expect(app.pickupVerified).toBe("code");
    answer("pickup_hand_over", card("o-1", "collected"));
    expect(await handOver()).toBe("handed");
    expect(callsOf("pickup_hand_over")).toEqual([{ orderId: "o-1", verified: "code" }]);
    expect(app.pickup?.order.status).toBe("collected");
    expect(app.pickupVerified, "the next order needs its own proof").toBeNull();
  });

  it("an order paid at pickup goes to the checkout with its cart instead", async () => {
    answer("pickup_find", { card: card("o-2", "ready", "pay_at_pickup"), verified: "qr" });
    await findForHandover("OMP1.token");
    answer("pickup_checkout", cart([line(1)]));
    expect(await handOver()).toBe("checkout");
    expect(callsOf("pickup_hand_over"), "the sale hands it over, not the button").toEqual([]);
    expect(app.screen).toBe("checkout");
    expect(app.cart?.lines.length).toBe(1);
  });

  it("nothing is handed over before the customer showed the order", async () => {
    app.pickup = card("o-1", "ready");
    expect(await handOver()).toBeUndefined();
    expect(callsOf("pickup_hand_over")).toEqual([]);
  });
});
