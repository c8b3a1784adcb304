// The sale at the checkout. The till holds the cart and answers every change with the whole of
// it, which is kept in app.cart; a change the till refuses leaves app.cart as it was and shows
// why in the banner. Completing the sale shows its receipt.

import {
  api,
  type Cart,
  type CartLine,
  type Discount,
  type ProductHit,
  type Receipt,
  type ScanOutcome,
} from "../api";
import { app, attempt, showInfo } from "../state.svelte";

// A change together with the lines before it, so that the checkout can tell which line it
// touched (and select it). `before` is read when the call runs, after every earlier change.
export interface CartChange {
  before: CartLine[];
  cart: Cart;
}

export interface ScanChange {
  before: CartLine[];
  outcome: ScanOutcome;
}

function keep(cart: Cart | undefined): Cart | undefined {
  if (cart) app.cart = cart;
  return cart;
}

// Runs a change that answers with the cart, noting the lines before it.
async function changeWithBefore(call: () => Promise<Cart>): Promise<CartChange | undefined> {
  const change = await attempt(async () => {
    const before = app.cart?.lines ?? [];
    const cart = await call();
    return { before, cart };
  });
  if (change) app.cart = change.cart;
  return change;
}

// Reads the cart the till holds (it outlives a lock and a restart of the UI).
export async function loadCart(): Promise<Cart | undefined> {
  return keep(await attempt(() => api.cartGet()));
}

// A code from the scan field: the till decides whether it is a member's card or QR code
// (attached to the sale) or an item (added), and says which.
export async function scanCode(code: string): Promise<ScanChange | undefined> {
  const change = await attempt(async () => {
    const before = app.cart?.lines ?? [];
    const outcome = await api.checkoutScan(code);
    return { before, outcome };
  });
  if (change) app.cart = change.outcome.cart;
  return change;
}

export function addToCart(productId: number): Promise<CartChange | undefined> {
  return changeWithBefore(() => api.cartAddProduct(productId));
}

export async function changeQuantity(lineId: number, quantity: number): Promise<Cart | undefined> {
  return keep(await attempt(() => api.cartSetQuantity(lineId, quantity)));
}

export function removeFromCart(lineId: number): Promise<CartChange | undefined> {
  return changeWithBefore(() => api.cartRemoveLine(lineId));
}

// A discount on one line, or null to take it off.
export async function setLineDiscount(
  lineId: number,
  discount: Discount | null,
): Promise<Cart | undefined> {
  return keep(await attempt(() => api.cartSetLineDiscount(lineId, discount)));
}

// A discount on the whole sale, or null to take it off.
export async function setCartDiscount(discount: Discount | null): Promise<Cart | undefined> {
  return keep(await attempt(() => api.cartSetCartDiscount(discount)));
}

// Cash: amount is what the customer hands over. Card: amount is charged on the terminal, and
// reference is the terminal's.
export async function addTender(
  kind: "cash" | "card",
  amountMinor: number,
  reference: string | null,
): Promise<Cart | undefined> {
  return keep(await attempt(() => api.cartAddTender(kind, amountMinor, reference)));
}

export async function payWithPoints(points: number): Promise<Cart | undefined> {
  return keep(await attempt(() => api.cartPayPoints(points)));
}

// Takes the index-th payment off the sale again (one keyed wrongly, a card that failed).
export async function removePayment(index: number): Promise<Cart | undefined> {
  return keep(await attempt(() => api.cartRemoveTender(index)));
}

// Completes a fully paid sale. The cart is then empty in the till, and the receipt screen
// shows the new receipt (with the change due). Returns the receipt, or undefined after showing
// why not.
export async function completeSale(): Promise<Receipt | undefined> {
  const receipt = await attempt(() => api.saleComplete());
  if (!receipt) return undefined;
  app.cart = null;
  app.shown = { receipt, reprint: false };
  showInfo("msg.saleDone", { no: receipt.receipt_no });
  app.screen = "receipt";
  return receipt;
}

// Finds products by name, SKU or barcode as the cashier types. Not queued behind changes and
// not shown in the banner: the search dialog drops answers that come too late and shows a
// failure itself.
export function searchCatalog(query: string): Promise<ProductHit[]> {
  return api.catalogSearch(query);
}
