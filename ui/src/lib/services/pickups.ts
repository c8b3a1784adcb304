// Click-and-collect: the store's queue, the order open on the pickup screen, picking it by
// scan, marking a line missing, ready, and handing it over (a pay-at-pickup order through the
// checkout, whose sale hands it over). Each answer from the till is kept in app.pickupQueue
// and app.pickup.

import { api, type PickupCard, type PickupQueue } from "../api";
import { app, attempt } from "../state.svelte";

// The queue's tabs, in the order an order moves through them (the till's QUEUE_TABS).
export const PICKUP_TABS = ["new", "picking", "ready", "collected", "expired", "cancelled"] as const;
export type PickupTab = (typeof PICKUP_TABS)[number];

// The tab the till files an order under.
export function tabOf(card: PickupCard): PickupTab {
  return (PICKUP_TABS as readonly string[]).includes(card.tab) ? (card.tab as PickupTab) : "new";
}

// How many orders `tab` holds, from the queue as last read.
export function countOf(queue: PickupQueue | null, tab: PickupTab): number {
  return queue?.counts.find((c) => c.tab === tab)?.count ?? 0;
}

// Keeps an order's newest state as the open order, and in the tab on show.
function keep(card: PickupCard): PickupCard {
  const orders = app.pickupQueue?.orders;
  const at = orders ? orders.findIndex((c) => c.order.id === card.order.id) : -1;
  if (orders && at >= 0) orders[at] = card;
  app.pickup = card;
  return card;
}

// Reads a tab of the queue (every tab's count comes with it); the open order follows it.
// `quietly`: a failure is not shown (a background refresh tries again).
export async function loadPickups(tab: PickupTab, quietly = false): Promise<boolean> {
  let queue: PickupQueue | undefined;
  if (quietly) {
    try {
      queue = await api.pickupQueue(tab);
    } catch {
      return false;
    }
  } else {
    queue = await attempt(() => api.pickupQueue(tab));
  }
  if (!queue) return false;
  app.pickupQueue = queue;
  const open = app.pickup && queue.orders.find((c) => c.order.id === app.pickup?.order.id);
  if (open) app.pickup = open;
  return true;
}

// Opens an order from the queue; the customer has not shown it yet.
export function openPickup(card: PickupCard) {
  app.pickup = card;
  app.pickupVerified = null;
}

async function change(call: (orderId: string) => Promise<PickupCard>): Promise<PickupCard | undefined> {
  const orderId = app.pickup?.order.id;
  if (!orderId) return undefined;
  const card = await attempt(() => call(orderId));
  return card && keep(card);
}

// A unit scanned for the open order.
export function scanForPickup(code: string): Promise<PickupCard | undefined> {
  return change((orderId) => api.pickupScan(orderId, code));
}

// Marks a line of the open order picked by hand, or missing with a reason.
export function markLine(lineNo: number, missingReason: string | null): Promise<PickupCard | undefined> {
  return change((orderId) => api.pickupMarkLine(orderId, lineNo, missingReason));
}

// Marks a picked line of the open (cancelled or expired) order back on the shelf.
export function putBack(lineNo: number): Promise<PickupCard | undefined> {
  return change((orderId) => api.pickupPutBack(orderId, lineNo));
}

// Marks the open order ready: the customer is told.
export function markReady(): Promise<PickupCard | undefined> {
  return change((orderId) => api.pickupReady(orderId));
}

// The order a customer shows (QR, code or member card) becomes the open order, verified.
export async function findForHandover(input: string): Promise<PickupCard | undefined> {
  const found = await attempt(() => api.pickupFind(input));
  if (!found) return undefined;
  keep(found.card);
  app.pickupVerified = found.verified;
  return found.card;
}

// Hands the open, verified order over. An order paid at pickup goes to the checkout instead,
// at its own prices; completing that sale hands it over. Answers "handed" or "checkout".
export async function handOver(): Promise<"handed" | "checkout" | undefined> {
  const card = app.pickup;
  const verified = app.pickupVerified;
  if (!card || !verified) return undefined;
  if (card.order.payment === "pay_at_pickup") {
    const cart = await attempt(() => api.pickupCheckout(card.order.id, verified));
    if (!cart) return undefined;
    app.cart = cart;
    app.pickup = null;
    app.pickupVerified = null;
    app.screen = "checkout";
    return "checkout";
  }
  const handed = await change((orderId) => api.pickupHandOver(orderId, verified));
  if (!handed) return undefined;
  app.pickupVerified = null;
  return "handed";
}
