import { describe, expect, it } from "vitest";
import type { CartLine } from "./api";
import { lineAfterAdd, lineAfterRemove, moveSelection } from "./cart";

function line(line_id: number, quantity = 1): CartLine {
  return {
    line_id,
    product_id: line_id,
    sku: `SKU${line_id}`,
    name: `Item ${line_id}`,
    barcode: null,
    quantity,
    unit_price_minor: 100,
    gross_minor: 100 * quantity,
    line_discount: null,
    discount_minor: 0,
    total_minor: 100 * quantity,
    tax_minor: 0,
  };
}

describe("lineAfterAdd", () => {
  it.each([
    ["first scan selects the new line", [], [line(1)], null, 1],
    ["a new line is selected", [line(1)], [line(1), line(2)], 1, 2],
    ["the newest of several new lines", [line(1)], [line(1), line(3), line(2)], 1, 3],
    ["a rescan that raised a quantity selects that line", [line(1), line(2)], [line(1, 2), line(2)], 2, 1],
    ["nothing changed keeps the selection", [line(1), line(2)], [line(1), line(2)], 1, 1],
    ["nothing changed and no selection picks the last", [line(1), line(2)], [line(1), line(2)], null, 2],
    ["an empty cart selects nothing", [line(1)], [], 1, null],
  ] as [string, CartLine[], CartLine[], number | null, number | null][])(
    "%s",
    (_name, before, after, previous, expected) => {
      expect(lineAfterAdd(before, after, previous), "selected line id").toBe(expected);
    },
  );
});

describe("lineAfterRemove", () => {
  it.each([
    ["the next line moves up into place", [line(1), line(2), line(3)], [line(1), line(3)], 2, 3],
    ["removing the last selects the one above", [line(1), line(2)], [line(1)], 2, 1],
    ["removing the only line selects nothing", [line(1)], [], 1, null],
  ] as [string, CartLine[], CartLine[], number, number | null][])(
    "%s",
    (_name, before, after, removed, expected) => {
      expect(lineAfterRemove(before, after, removed), "selected line id").toBe(expected);
    },
  );
});

describe("moveSelection", () => {
  const lines = [line(1), line(2), line(3)];
  it.each([
    [1, 1, 2],
    [3, 1, 3],
    [1, -1, 1],
    [2, -1, 1],
    [null, 1, 1],
    [null, -1, 3],
  ] as [number | null, number, number][])("from %j by %i is %i", (from, step, expected) => {
    expect(moveSelection(lines, from, step), "selection stays within the cart").toBe(expected);
  });

  it("an empty cart has no selection", () => {
    expect(moveSelection([], 1, 1)).toBeNull();
  });
});
