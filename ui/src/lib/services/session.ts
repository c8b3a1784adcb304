// The staff session: signing in, locking the till, reading AppStatus (which says who is signed
// in and which screen the till can show), and telling the shell the first screen is up.

import { api, type AppStatus, type Staff } from "../api";
import { toApiError } from "../errors";
import { app, attempt, clearMessage } from "../state.svelte";

// Counts sign-ins and locks, so that a status refresh started before one is not applied after it.
let sessionEpoch = 0;

export function sessionChanged() {
  sessionEpoch++;
}

// Reads AppStatus and moves to the screen it implies: the error page when the ledger could not
// be opened, sign-in when nobody is signed in. With `initial` it also picks the first screen.
export async function refreshStatus(initial = false): Promise<void> {
  const asked = sessionEpoch;
  let status: AppStatus;
  try {
    status = await api.appStatus();
    // A sign-in or lock while this was under way makes the answer stale for the session.
    if (asked !== sessionEpoch && !initial) return;
  } catch (error) {
    if (initial) {
      app.status = null;
      app.message = null;
      app.fatal = toApiError(error);
      app.screen = "fatal";
    }
    return;
  }
  app.status = status;
  if (status.error) {
    app.fatal = status.error;
    app.screen = "fatal";
    return;
  }
  if (!status.session) {
    if (app.screen !== "login") app.screen = "login";
  } else if (initial || app.screen === "loading") {
    app.screen = "checkout";
  }
}

// Signs a staff member in and notes the session at once, so that a status refresh already under
// way is not applied over it. Returns who signed in, or undefined after showing why not.
export async function logIn(staffCode: string, pin: string): Promise<Staff | undefined> {
  const staff = await attempt(() => api.login(staffCode, pin));
  if (!staff) return undefined;
  clearMessage();
  sessionChanged();
  if (app.status) app.status.session = staff;
  return staff;
}

// After a sign-in: reads AppStatus again (the settings may differ for the new session), then
// shows the checkout.
export async function openCheckout(): Promise<void> {
  await refreshStatus();
  app.screen = "checkout";
}

// Locks the till: the session ends, the cart stays in the till for whoever signs in next.
// The sign-in screen appears even when the till answers with an error (it is then locked anyway
// or unreachable), so a till is never left open by a failed lock.
export async function lockTill(): Promise<void> {
  try {
    await attempt(async () => {
      try {
        await api.lock();
      } catch {
        // Shown nowhere on purpose: the next sign-in reports any real fault.
      }
    });
  } finally {
    sessionChanged();
    if (app.status) app.status.session = null;
    app.shown = null;
    clearMessage();
    app.screen = "login";
  }
}

// Tells the shell the first screen is painted (a benchmark measures cold start up to here).
// The caller decides what a failure means: outside the till there is nobody to tell.
export function uiReady(): Promise<void> {
  return api.uiReady();
}
