import { beforeEach, describe, expect, it, vi } from "vitest";
import type { FloorView } from "../api";
import { app } from "../state.svelte";
import { answer, callsOf, cart, line, refuse, resetApp, resetTill } from "./fixtures";
import { addToSale, openFloor } from "./floor";

vi.mock("@tauri-apps/api/core", () => ({ invoke: vi.fn() }));

beforeEach(() => {
  resetTill();
  resetApp();
});

describe("openFloor", () => {
  it("shows the attached member's view", async () => {
    const view = { lists_from: "till", favourites: [] } as unknown as FloorView;
    answer("member_floor", view);
    expect(await openFloor()).toBe(true);
    expect(app.screen).toBe("floor");
    expect(app.floor).toEqual(view);
  });

  it("stays on the sale and says why when no member is attached", async () => {
    refuse("member_floor", "bad_input", "attach a member to see their view");
    expect(await openFloor()).toBe(false);
    expect(app.screen).toBe("checkout");
    expect(app.message?.code).toBe("bad_input");
  });
});

describe("addToSale", () => {
  it("adds one of the product and keeps the cart the till answers", async () => {
    answer("cart_add_product", cart([line(1)]));
    await addToSale(42);
    expect(callsOf("cart_add_product")).toEqual([{ productId: 42 }]);
    expect(app.cart?.lines.length).toBe(1);
  });
});
