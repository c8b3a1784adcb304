// The UI's shared state: the last AppStatus, the cart, the screen on show, the message banner,
// and the receipt being shown. Components read `app` directly; Svelte tracks what they read.
// They change it through the services in ./services, which ask the till and store its answer.
// Every call to the till that changes something goes through `attempt`, which runs calls one at a
// time in the order they were made (a fast scanner can send several barcodes before the first
// answer) and shows a failure in the banner instead of throwing.

import type {
  ApiError,
  AppStatus,
  Cart,
  ErrorCode,
  FloorView,
  Language,
  PickupCard,
  PickupQueue,
  Receipt,
  Verified,
} from "./api";
import { toApiError } from "./errors";
import { translate, type MessageKey, type Params } from "./i18n";
import { formatMoney } from "./money";

export type Screen =
  | "loading"
  | "fatal"
  | "login"
  | "checkout"
  | "receipt"
  | "refund"
  | "receipts"
  | "settings"
  | "review"
  | "pickups"
  | "floor";

export interface Message {
  // error: red, from the till or a value the till would refuse; warning: amber, a hint from the
  // UI (select a line first); info: blue, a confirmation that fades.
  kind: "error" | "warning" | "info";
  code: ErrorCode | "";
  key: MessageKey;
  params?: Params;
  detail: string;
}

export interface ShownReceipt {
  receipt: Receipt;
  reprint: boolean;
}

class AppState {
  status = $state<AppStatus | null>(null);
  screen = $state<Screen>("loading");
  cart = $state<Cart | null>(null);
  message = $state<Message | null>(null);
  shown = $state<ShownReceipt | null>(null);
  // A barcode scanned on the receipt screen, to be added once the next sale's screen is up.
  pendingScan = $state<string | null>(null);
  busy = $state(0);
  // The pickup queue's tab on show as last read (every tab's count, the tab's most urgent
  // orders), the order open on the pickup screen, and how its customer proved it theirs (set
  // once they showed it for handover).
  pickupQueue = $state<PickupQueue | null>(null);
  pickup = $state<PickupCard | null>(null);
  pickupVerified = $state<Verified | null>(null);
  // The attached member as floor staff see them.
  floor = $state<FloorView | null>(null);
  // Why the till cannot start: AppStatus.error, or why AppStatus itself failed.
  fatal = $state<ApiError | null>(null);

  language: Language = $derived(this.status?.settings?.language ?? "en");
  exponent: number = $derived(this.status?.store?.currency_exponent ?? 2);
  currency: string = $derived(this.status?.store?.currency ?? "");
  // The store's offset from UTC; before the till answers, the machine's own.
  utcOffset: number = $derived(
    this.status?.store?.utc_offset_minutes ?? -new Date().getTimezoneOffset(),
  );
  isManager: boolean = $derived(this.status?.session?.role === "manager");
}

export const app = new AppState();

// The time shown by the clocks and used for ages in the status bar; App.svelte ticks it.
export const clock = $state({ now: Date.now() });

export function t(key: MessageKey, params?: Params): string {
  return translate(app.language, key, params);
}

export function money(minor: number): string {
  return formatMoney(minor, app.currency, app.exponent);
}

// --- The message banner -------------------------------------------------------------------

let infoTimer: ReturnType<typeof setTimeout> | undefined;

function setMessage(message: Message | null) {
  clearTimeout(infoTimer);
  app.message = message;
  if (message?.kind === "info") {
    infoTimer = setTimeout(() => {
      if (app.message === message) app.message = null;
    }, 4000);
  }
}

export function clearMessage() {
  setMessage(null);
}

// Shows a failure from the till in the cashier's words, with the till's own text as detail.
// A lost session (the till was locked elsewhere or restarted) goes back to the sign-in screen.
export function showError(error: unknown) {
  const e = toApiError(error);
  setMessage({ kind: "error", code: e.code, key: `error.${e.code}`, detail: e.message });
  if (e.code === "not_logged_in" && app.status) {
    app.status.session = null;
    app.screen = "login";
  }
}

// An error the UI found before asking the till, worded as the till's error of the same code
// (an amount that is not a number is a bad tender).
export function showLocalError(code: ErrorCode, key?: MessageKey, params?: Params) {
  setMessage({ kind: "error", code, key: key ?? `error.${code}`, params, detail: "" });
}

export function showWarning(key: MessageKey, params?: Params) {
  setMessage({ kind: "warning", code: "", key, params, detail: "" });
}

export function showInfo(key: MessageKey, params?: Params) {
  setMessage({ kind: "info", code: "", key, params, detail: "" });
}

// --- Calls to the till --------------------------------------------------------------------

let queue: Promise<unknown> = Promise.resolve();

// Runs `call` after every call made before it, and returns its result, or undefined after
// showing the failure in the banner.
export function attempt<T>(call: () => Promise<T>): Promise<T | undefined> {
  const run = queue.then(async () => {
    app.busy++;
    try {
      return await call();
    } catch (error) {
      showError(error);
      return undefined;
    } finally {
      app.busy--;
    }
  });
  queue = run;
  return run;
}

export function goCheckout() {
  clearMessage();
  app.shown = null;
  app.screen = "checkout";
}
