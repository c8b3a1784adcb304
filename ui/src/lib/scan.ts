// What the cashier (or the scanner) typed into the checkout's scan field, before anything is
// sent to the till. "+3" or "*3" sets the quantity of the selected line (a keyboard shortcut of
// the checkout screen); anything else that is not blank is a code for the till, which decides
// what it is (a member's card or QR code, or an item) and whether it is valid: the UI holds no
// catalog or membership rules.

export type ScanInput =
  | { kind: "empty" }
  | { kind: "quantity"; quantity: number }
  | { kind: "code"; code: string };

// Digits beyond this cannot be an exact JavaScript integer; such a quantity is passed on as the
// largest safe integer so the till answers with its "quantity out of range" error.
const MAX_QUANTITY_DIGITS = 15;

export function classifyScan(raw: string): ScanInput {
  // NFKC turns full-width digits and signs from a Chinese input method into ASCII.
  const text = raw.normalize("NFKC").trim();
  if (text === "") return { kind: "empty" };
  const m = /^[+*]\s*(\d+)$/.exec(text);
  if (m) {
    const digits = m[1].replace(/^0+(?=\d)/, "");
    const quantity =
      digits.length > MAX_QUANTITY_DIGITS ? Number.MAX_SAFE_INTEGER : Number(digits);
    return { kind: "quantity", quantity };
  }
  return { kind: "code", code: text };
}
