// Money on screen and in input fields. Amounts are integer minor units (cents, fen) with the
// store's currency exponent; nothing here multiplies or divides a float. Formatting and parsing
// work on digit strings, so "150.50" becomes 15050 exactly.

// Symbols for the currencies a Taiwanese or nearby store is likely to use. Any other currency is
// shown with its ISO code after the amount ("1,234.50 CHF").
const SYMBOLS: Record<string, string> = {
  TWD: "NT$",
  USD: "US$",
  HKD: "HK$",
  SGD: "S$",
  CNY: "CN¥",
  JPY: "¥",
  EUR: "€",
  GBP: "£",
  MYR: "RM",
};

// Largest amount in minor units we accept from an input field: it must stay an exact integer in
// a JavaScript number (2^53 - 1) and in the ledger's i64.
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

function groupThousands(digits: string): string {
  return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

// Splits |minor| into its major and minor digit strings: (123450, 2) -> ["1234", "50"].
function splitDigits(minor: number, exponent: number): [string, string] {
  const digits = String(Math.abs(Math.trunc(minor))).padStart(exponent + 1, "0");
  if (exponent === 0) return [digits, ""];
  return [digits.slice(0, -exponent), digits.slice(-exponent)];
}

// A number with thousands separators and exactly `exponent` decimals, without a currency:
// (123450, 2) -> "1,234.50"; (-5, 2) -> "-0.05"; (1235, 0) -> "1,235".
export function formatNumber(minor: number, exponent: number): string {
  const [major, frac] = splitDigits(minor, exponent);
  const sign = minor < 0 ? "-" : "";
  return sign + groupThousands(major) + (frac ? "." + frac : "");
}

// An amount for display: "NT$1,234.50", "-NT$3.00", or "1,234.50 CHF" for a currency without a
// known symbol.
export function formatMoney(minor: number, currency: string, exponent: number): string {
  const symbol = SYMBOLS[currency];
  const [major, frac] = splitDigits(minor, exponent);
  const sign = minor < 0 ? "-" : "";
  const number = groupThousands(major) + (frac ? "." + frac : "");
  if (symbol) return sign + symbol + number;
  return currency ? `${sign}${number} ${currency}` : sign + number;
}

// An amount as a cashier would type it, for prefilling an input: no separators, no symbol.
// (123450, 2) -> "1234.50". parseAmount reads it back to the same integer.
export function formatPlain(minor: number, exponent: number): string {
  const [major, frac] = splitDigits(minor, exponent);
  return (minor < 0 ? "-" : "") + major + (frac ? "." + frac : "");
}

// Reads a typed amount into minor units, or null when the text is not a plain non-negative
// amount with at most `exponent` decimals. Full-width digits from a Chinese input method are
// accepted; thousands separators are accepted only where they belong ("1,234.5").
export function parseAmount(text: string, exponent: number): number | null {
  const s = text.normalize("NFKC").trim();
  const m = /^(\d{1,3}(?:,\d{3})+|\d*)(?:\.(\d*))?$/.exec(s);
  if (!m) return null;
  const major = m[1].replace(/,/g, "");
  const frac = m[2];
  if (frac !== undefined && exponent === 0) return null;
  if (major === "" && (frac === undefined || frac === "")) return null;
  if (frac !== undefined && frac.length > exponent) return null;
  const digits = (major || "0") + (frac ?? "").padEnd(exponent, "0");
  const trimmed = digits.replace(/^0+(?=\d)/, "");
  if (trimmed.length > 16) return null;
  const value = Number(trimmed);
  if (!Number.isSafeInteger(value) || value > MAX_SAFE) return null;
  return value;
}

// Reads a typed percentage into basis points: "10" -> 1000, "12.5" -> 1250, "12.55" -> 1255.
// A trailing "%" is allowed. Whether the percentage is allowed is decided by the till, not here.
export function parsePercent(text: string): number | null {
  const s = text.normalize("NFKC").trim().replace(/\s*%$/, "");
  return parseAmount(s, 2);
}

// Basis points as a percentage for display and input: 1000 -> "10", 1250 -> "12.5", 5 -> "0.05".
export function formatPercent(basisPoints: number): string {
  const plain = formatPlain(basisPoints, 2);
  return plain.replace(/\.?0+$/, "");
}

// Amounts a customer is likely to hand over for a cash payment of `dueMinor`: the exact amount,
// then the next round sums of 100, 500 and 1000 in major units, each larger than the last.
export function cashSuggestions(dueMinor: number, exponent: number): number[] {
  if (dueMinor <= 0) return [];
  const unit = 10 ** exponent;
  const out: number[] = [dueMinor];
  for (const step of [100, 500, 1000]) {
    const stepMinor = step * unit;
    const next = dueMinor + ((stepMinor - (dueMinor % stepMinor)) % stepMinor);
    if (next > out[out.length - 1]) out.push(next);
  }
  return out;
}
