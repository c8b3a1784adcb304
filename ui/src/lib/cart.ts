// Pure helpers for the checkout's cart view: which line to select after the cart changed.

import type { CartLine } from "./api";

// The line a cashier expects to see selected after a scan or an add: a line that did not exist
// before (the newest one if several), else a line whose quantity changed, else the previously
// selected line if it still exists, else the last line. Null for an empty cart.
export function lineAfterAdd(
  before: readonly CartLine[],
  after: readonly CartLine[],
  previous: number | null,
): number | null {
  if (after.length === 0) return null;
  const old = new Map(before.map((l) => [l.line_id, l]));
  const added = after.filter((l) => !old.has(l.line_id));
  if (added.length > 0) return added.reduce((a, b) => (b.line_id > a.line_id ? b : a)).line_id;
  const changed = after.find((l) => old.get(l.line_id)?.quantity !== l.quantity);
  if (changed) return changed.line_id;
  if (previous !== null && after.some((l) => l.line_id === previous)) return previous;
  return after[after.length - 1].line_id;
}

// The line to select after the selected line was removed: the one that took its place, or the
// one above it when it was the last.
export function lineAfterRemove(
  before: readonly CartLine[],
  after: readonly CartLine[],
  removed: number,
): number | null {
  if (after.length === 0) return null;
  const index = before.findIndex((l) => l.line_id === removed);
  const at = Math.min(Math.max(index, 0), after.length - 1);
  return after[at].line_id;
}

// Moves the selection by `step` lines (negative is up), staying within the cart.
export function moveSelection(
  lines: readonly CartLine[],
  selected: number | null,
  step: number,
): number | null {
  if (lines.length === 0) return null;
  const index = lines.findIndex((l) => l.line_id === selected);
  if (index < 0) return lines[step < 0 ? lines.length - 1 : 0].line_id;
  const next = Math.min(Math.max(index + step, 0), lines.length - 1);
  return lines[next].line_id;
}
