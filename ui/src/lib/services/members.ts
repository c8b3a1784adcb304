// The member of the sale: attaching and enrolling them, their coupons, and their history from
// the cloud. Each change answers with the cart, which is kept in app.cart. When the till refuses
// one, the refusal stays in the banner and the cart is read again, since a sync may have changed
// the member meanwhile (a coupon used in the e-shop, a new balance).

import { api, type Cart, type Enrolment, type MemberHistory } from "../api";
import { app, attempt } from "../state.svelte";

async function change(call: () => Promise<Cart>): Promise<Cart | undefined> {
  const next = await attempt(call);
  if (next) {
    app.cart = next;
  } else {
    // Not awaited: the dialog takes keys again as soon as the refusal is shown.
    void rereadCart();
  }
  return next;
}

async function rereadCart(): Promise<void> {
  try {
    app.cart = await api.cartGet();
  } catch {
    // Nothing more to show than the refusal already shown.
  }
}

// A scanned QR code, card number, phone or e-mail: finds the member and attaches them.
export function attachMember(input: string): Promise<Cart | undefined> {
  return change(() => api.memberAttach(input));
}

// Enrols a new member at this till (works offline) and attaches them to the sale.
export function enrolMember(request: Enrolment): Promise<Cart | undefined> {
  return change(() => api.memberEnrol(request));
}

export function detachMember(): Promise<Cart | undefined> {
  return change(() => api.memberDetach());
}

export function applyCoupon(couponId: string): Promise<Cart | undefined> {
  return change(() => api.cartApplyCoupon(couponId));
}

export function removeCoupon(): Promise<Cart | undefined> {
  return change(() => api.cartRemoveCoupon());
}

// The attached member's history, from the cloud. Not queued behind changes and not shown in the
// banner: the dialog shows it when it comes and nothing when it cannot be had.
export function memberHistory(): Promise<MemberHistory> {
  return api.memberHistory();
}
