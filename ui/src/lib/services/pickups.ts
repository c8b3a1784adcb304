// Click-and-collect: the store's queue, the order open on the pickup screen, picking it by
// scan, marking a line missing, ready, and handing it over (a pay-at-pickup order through the
// checkout, whose sale hands it over). Each answer from the till is kept in app.pickups and
// app.pickup.

import { api, type PickupCard } from "../api";
import { app, attempt } from "../state.svelte";

// The queue's tabs, in the order an order moves through them.
export const PICKUP_TABS = ["new", "picking", "ready", "collected", "expired", "cancelled"] as const;
export type PickupTab = (typeof PICKUP_TABS)[number];

// The tab an order's status belongs to: a partly collected order is collected; a status this
// build does not know shows under New, so that nobody misses it.
export function tabOf(status: string): PickupTab {
  if (status === "partially_collected") return "collected";
  return (PICKUP_TABS as readonly string[]).includes(status) ? (status as PickupTab) : "new";
}

// How many orders each tab holds.
export function countByTab(cards: PickupCard[]): Record<PickupTab, number> {
  const counts = Object.fromEntries(PICKUP_TABS.map((tab) => [tab, 0])) as Record<PickupTab, number>;
  for (const card of cards) counts[tabOf(card.order.status)] += 1;
  return counts;
}

// Keeps an order's newest state in the queue and as the open order.
function keep(card: PickupCard): PickupCard {
  const at = app.pickups.findIndex((c) => c.order.id === card.order.id);
  if (at >= 0) app.pickups[at] = card;
  else app.pickups = [card, ...app.pickups];
  app.pickup = card;
  return card;
}

// Reads the queue again; the open order follows it.
export async function loadPickups(): Promise<boolean> {
  const cards = await attempt(() => api.pickupQueue());
  if (!cards) return false;
  app.pickups = cards;
  const open = app.pickup && cards.find((c) => c.order.id === app.pickup?.order.id);
  app.pickup = open ?? null;
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
