import { describe, expect, it } from "vitest";
import { barsFromModules } from "./barcode";

describe("barsFromModules", () => {
  it.each([
    ["", []],
    ["000", []],
    ["1", [{ x: 0, width: 1 }]],
    ["11010", [{ x: 0, width: 2 }, { x: 3, width: 1 }]],
    ["0110011100", [{ x: 1, width: 2 }, { x: 5, width: 3 }]],
    ["111", [{ x: 0, width: 3 }]],
  ] as [string, { x: number; width: number }[]][])("%j gives %j", (modules, bars) => {
    expect(barsFromModules(modules), "each run of black modules is one bar").toEqual(bars);
  });

  it("covers exactly the black modules of a Code 128 start symbol", () => {
    const modules = "11010010000";
    const black = barsFromModules(modules).reduce((sum, bar) => sum + bar.width, 0);
    expect(black, "bar widths must add up to the count of '1'").toBe(4);
  });
});
