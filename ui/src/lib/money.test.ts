import { describe, expect, it } from "vitest";
import {
  cashSuggestions,
  formatMoney,
  formatNumber,
  formatPercent,
  formatPlain,
  parseAmount,
  parsePercent,
} from "./money";

describe("formatMoney", () => {
  const cases: [number, string, number, string][] = [
    [123450, "TWD", 2, "NT$1,234.50"],
    [0, "TWD", 2, "NT$0.00"],
    [5, "TWD", 2, "NT$0.05"],
    [99, "TWD", 2, "NT$0.99"],
    [100, "TWD", 2, "NT$1.00"],
    [-300, "TWD", 2, "-NT$3.00"],
    [123456789, "TWD", 2, "NT$1,234,567.89"],
    [1235, "TWD", 0, "NT$1,235"],
    [1000000, "JPY", 0, "¥1,000,000"],
    [123450, "CHF", 2, "1,234.50 CHF"],
    [-123450, "CHF", 2, "-1,234.50 CHF"],
    [1, "KWD", 3, "0.001 KWD"],
    [900719925474099, "TWD", 2, "NT$9,007,199,254,740.99"],
  ];
  it.each(cases)("formatMoney(%i, %s, %i) is %s", (minor, currency, exponent, expected) => {
    expect(formatMoney(minor, currency, exponent), "the amount shown to the cashier").toBe(
      expected,
    );
  });
});

describe("formatNumber and formatPlain", () => {
  it.each([
    [123450, 2, "1,234.50", "1234.50"],
    [-5, 2, "-0.05", "-0.05"],
    [1000, 0, "1,000", "1000"],
    [7, 1, "0.7", "0.7"],
  ] as [number, number, string, string][])(
    "%i with exponent %i is %s / %s",
    (minor, exponent, grouped, plain) => {
      expect(formatNumber(minor, exponent), "grouped number").toBe(grouped);
      expect(formatPlain(minor, exponent), "plain number for an input field").toBe(plain);
    },
  );

  it.each([0, 1, 99, 100, 150, 15050, 123456, 900719925474099])(
    "formatPlain then parseAmount gives back %i exactly",
    (minor) => {
      expect(parseAmount(formatPlain(minor, 2), 2), "a prefilled amount must read back unchanged").toBe(
        minor,
      );
    },
  );
});

describe("parseAmount", () => {
  const accepted: [string, number, number][] = [
    ["150", 2, 15000],
    ["150.5", 2, 15050],
    ["150.50", 2, 15050],
    ["150.", 2, 15000],
    [".5", 2, 50],
    ["0.05", 2, 5],
    ["0", 2, 0],
    ["0.00", 2, 0],
    ["007", 2, 700],
    ["  12.30 ", 2, 1230],
    ["1,234.50", 2, 123450],
    ["1,234,567", 2, 123456700],
    ["１５０．５", 2, 15050], // full-width digits from a Chinese input method
    ["150", 0, 150],
    ["1.234", 3, 1234],
    ["0.1", 1, 1],
    ["19.99", 2, 1999], // 19.99 * 100 in floating point is 1998.9999999999998
    ["1.1", 2, 110], // 1.1 * 100 in floating point is 110.00000000000001
    ["90071992547409.91", 2, 9007199254740991],
  ];
  it.each(accepted)("parseAmount(%j, %i) is %i", (text, exponent, expected) => {
    expect(parseAmount(text, exponent), `"${text}" must be read as ${expected} minor units`).toBe(
      expected,
    );
  });

  const rejected: [string, number][] = [
    ["", 2],
    ["   ", 2],
    [".", 2],
    ["abc", 2],
    ["12a", 2],
    ["-1", 2],
    ["+1", 2],
    ["1.234", 2],
    ["1.5", 0],
    ["150.", 0],
    ["1e3", 2],
    ["1 000", 2],
    ["12,34", 2],
    ["1,2345", 2],
    [",123", 2],
    ["1.2.3", 2],
    ["NaN", 2],
    ["Infinity", 2],
    ["0x10", 2],
    ["90071992547409.92", 2], // one minor unit above the largest exact integer
    ["99999999999999999999", 2],
  ];
  it.each(rejected)("parseAmount(%j, %i) is rejected", (text, exponent) => {
    expect(parseAmount(text, exponent), `"${text}" is not an amount and must give null`).toBeNull();
  });
});

describe("percentages", () => {
  it.each([
    ["10", 1000],
    ["12.5", 1250],
    ["12.55", 1255],
    ["0.5", 50],
    ["100", 10000],
    ["15%", 1500],
    ["15 %", 1500],
    ["0", 0],
  ] as [string, number][])("parsePercent(%j) is %i basis points", (text, bp) => {
    expect(parsePercent(text), `"${text}" percent in basis points`).toBe(bp);
  });

  it.each(["", "abc", "-5", "12.555", "%"])("parsePercent(%j) is rejected", (text) => {
    expect(parsePercent(text), `"${text}" is not a percentage`).toBeNull();
  });

  it.each([
    [1000, "10"],
    [1250, "12.5"],
    [1255, "12.55"],
    [5, "0.05"],
    [0, "0"],
    [10000, "100"],
  ] as [number, string][])("formatPercent(%i) is %s", (bp, text) => {
    expect(formatPercent(bp), "percentage shown for basis points").toBe(text);
    expect(parsePercent(text), "the shown percentage reads back to the same basis points").toBe(bp);
  });
});

describe("cashSuggestions", () => {
  it.each([
    [123450, 2, [123450, 130000, 150000, 200000]],
    [100000, 2, [100000]],
    [120000, 2, [120000, 150000, 200000]],
    [50000, 2, [50000, 100000]],
    [10000, 2, [10000, 50000, 100000]],
    [1, 0, [1, 100, 500, 1000]],
    [0, 2, []],
  ] as [number, number, number[]][])(
    "for %i due (exponent %i) suggests %j",
    (due, exponent, expected) => {
      expect(cashSuggestions(due, exponent), "exact amount then larger round sums").toEqual(
        expected,
      );
    },
  );
});
