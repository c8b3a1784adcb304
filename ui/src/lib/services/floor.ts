// The shop floor: the attached member as floor staff see them (favourites, views, suggestions,
// next best actions), kept in app.floor, and adding one of their products to the sale.

import { api, type Cart } from "../api";
import { app, attempt, clearMessage } from "../state.svelte";

// Reads the attached member's view and shows it. False when the till refused (no member).
export async function openFloor(): Promise<boolean> {
  const view = await attempt(() => api.memberFloor());
  if (!view) return false;
  clearMessage();
  app.floor = view;
  app.screen = "floor";
  return true;
}

// Adds one of the product to the sale.
export async function addToSale(productId: number): Promise<Cart | undefined> {
  const cart = await attempt(() => api.cartAddProduct(productId));
  if (cart) app.cart = cart;
  return cart;
}
