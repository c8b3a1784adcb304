import { beforeEach, describe, expect, it, vi } from "vitest";
import { app } from "../state.svelte";
import {
  addTender,
  addToCart,
  changeQuantity,
  completeSale,
  loadCart,
  removeFromCart,
  scanCode,
  searchCatalog,
} from "./checkout";
import {
  answer,
  answerInTurn,
  callsOf,
  cart,
  line,
  receipt,
  refuse,
  resetApp,
  resetTill,
} from "./fixtures";

vi.mock("@tauri-apps/api/core", () => ({ invoke: vi.fn() }));

beforeEach(() => {
  resetTill();
  resetApp();
});

describe("cart changes", () => {
  it("keep the cart the till answers with", async () => {
    const next = cart([line(1, 3)]);
    answer("cart_set_quantity", next);
    app.cart = cart([line(1)]);
    const result = await changeQuantity(1, 3);
    expect(callsOf("cart_set_quantity"), "the till is asked for the line and quantity").toEqual([
      { lineId: 1, quantity: 3 },
    ]);
    expect(app.cart, "the screen shows the till's cart, not one the UI computed").toBe(next);
    expect(result, "the checkout gets the same cart to pick its selection").toBe(next);
  });

  it("leave the cart as it was and show why when the till refuses", async () => {
    const before = cart([line(1)]);
    app.cart = before;
    refuse("cart_add_tender", "bad_tender");
    const result = await addTender("cash", 500, null);
    expect(result, "a refusal is an undefined answer, not a throw").toBeUndefined();
    expect(app.cart, "a refused change must not alter the cart on screen").toBe(before);
    expect(app.message?.code, "the cashier sees why in the banner").toBe("bad_tender");
    expect(app.message?.kind, "a refusal shows as an error").toBe("error");
  });

  it("load the cart the till holds", async () => {
    const held = cart([line(1), line(2)]);
    answer("cart_get", held);
    await loadCart();
    expect(app.cart, "a cart kept through a lock or restart is shown again").toBe(held);
  });

  it("give the lines before an added product, so the checkout can select the new line", async () => {
    const before = cart([line(1)]);
    const after = cart([line(1), line(2)]);
    app.cart = before;
    answer("cart_add_product", after);
    const change = await addToCart(2);
    expect(change?.before, "the lines as they were when the call ran").toBe(before.lines);
    expect(change?.cart, "the till's cart after the change").toBe(after);
    expect(app.cart, "the cart on screen is the till's").toBe(after);
  });

  it("see the cart the change before them left, when made before its answer", async () => {
    const first = cart([line(1)]);
    const second = cart([line(1), line(2)]);
    app.cart = cart();
    answerInTurn("cart_add_product", first, second);
    const one = addToCart(1);
    const two = addToCart(2);
    await one;
    const change = await two;
    expect(
      change?.before,
      "a fast scanner's second item is compared with the cart after the first, or the wrong line is selected",
    ).toBe(first.lines);
  });

  it("give the lines before a removal", async () => {
    const before = cart([line(1), line(2)]);
    const after = cart([line(2)]);
    app.cart = before;
    answer("cart_remove_line", after);
    const change = await removeFromCart(1);
    expect(callsOf("cart_remove_line"), "the till is asked to remove that line").toEqual([
      { lineId: 1 },
    ]);
    expect(change?.before, "the checkout selects the removed line's neighbour from these").toBe(
      before.lines,
    );
    expect(app.cart, "the cart on screen is the till's").toBe(after);
  });
});

describe("scanCode", () => {
  it("keeps the cart of the scan's outcome, whatever the code was", async () => {
    const attached = cart([line(1)]);
    app.cart = cart([line(1)]);
    answer("checkout_scan", { kind: "member_card", cart: attached });
    const change = await scanCode("M123");
    expect(callsOf("checkout_scan"), "the till decides what the code is").toEqual([{ code: "M123" }]);
    expect(app.cart, "a member's card attaches them: the cart shows it").toBe(attached);
    expect(change?.outcome.kind, "the checkout says what the scan did").toBe("member_card");
  });
});

describe("completeSale", () => {
  it("empties the cart and shows the receipt of the sale", async () => {
    const done = receipt("R-1");
    app.cart = cart([line(1)], { fully_paid: true });
    answer("sale_complete", done);
    const result = await completeSale();
    expect(result, "the pay dialog learns the sale is complete").toBe(done);
    expect(app.cart, "the next sale starts from an empty cart").toBeNull();
    expect(app.shown, "the new receipt is shown, not as a reprint").toEqual({
      receipt: done,
      reprint: false,
    });
    expect(app.screen, "the receipt screen shows the change due").toBe("receipt");
    expect(app.message?.key, "the banner confirms the sale").toBe("msg.saleDone");
    expect(app.message?.params, "with the receipt's number").toEqual({ no: "R-1" });
  });

  it("stays on the checkout with the cart when the till refuses", async () => {
    const unpaid = cart([line(1)]);
    app.cart = unpaid;
    refuse("sale_complete", "not_paid");
    const result = await completeSale();
    expect(result, "no receipt for a refused sale").toBeUndefined();
    expect(app.cart, "the cashier can still take payment").toBe(unpaid);
    expect(app.shown, "no receipt is shown").toBeNull();
    expect(app.screen, "the checkout stays").toBe("checkout");
    expect(app.message?.code, "the banner says why").toBe("not_paid");
  });
});

describe("searchCatalog", () => {
  it("leaves a failure to the search dialog", async () => {
    refuse("catalog_search", "internal");
    await expect(
      searchCatalog("tea"),
      "the dialog drops late answers, so it shows failures itself",
    ).rejects.toEqual({ code: "internal", message: "refused by the test" });
    expect(app.message, "the service itself shows nothing").toBeNull();
  });
});
