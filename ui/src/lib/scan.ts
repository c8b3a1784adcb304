// What the cashier (or the scanner) typed into the checkout's scan field, classified before
// anything is sent to the till. "+3" or "*3" sets the quantity of the selected line; a member's
// QR code or card attaches that member; anything else that is not blank is passed to the till
// as a barcode or SKU, which decides whether it is
// valid (the UI holds no catalog rules).

export type ScanInput =
  | { kind: "empty" }
  | { kind: "quantity"; quantity: number }
  | { kind: "barcode"; code: string }
  | { kind: "member"; code: string };

// A member app's QR code starts with this; member cards are EAN-13 numbers in the 29 range
// (the till checks both: the signature and expiry of a QR code, the check digit of a card).
const MEMBER_QR_PREFIX = "OMQ1.";
const MEMBER_CARD = /^29\d{11}$/;

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
  if (text.startsWith(MEMBER_QR_PREFIX) || MEMBER_CARD.test(text)) return { kind: "member", code: text };
  return { kind: "barcode", code: text };
}
