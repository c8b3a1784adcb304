import { describe, expect, it } from "vitest";
import { classifyScan, type ScanInput } from "./scan";

describe("classifyScan", () => {
  const cases: [string, ScanInput][] = [
    ["", { kind: "empty" }],
    ["   ", { kind: "empty" }],
    ["\t", { kind: "empty" }],
    ["4710088432045", { kind: "code", code: "4710088432045" }],
    ["  4710088432045 ", { kind: "code", code: "4710088432045" }],
    ["96385074", { kind: "code", code: "96385074" }],
    ["SKU-001", { kind: "code", code: "SKU-001" }],
    ["４７１００８８", { kind: "code", code: "4710088" }],
    ["*3", { kind: "quantity", quantity: 3 }],
    ["+3", { kind: "quantity", quantity: 3 }],
    ["*12", { kind: "quantity", quantity: 12 }],
    ["+ 5", { kind: "quantity", quantity: 5 }],
    ["*007", { kind: "quantity", quantity: 7 }],
    ["*0", { kind: "quantity", quantity: 0 }],
    ["*9999", { kind: "quantity", quantity: 9999 }],
    ["＊３", { kind: "quantity", quantity: 3 }],
    ["*99999999999999999999", { kind: "quantity", quantity: Number.MAX_SAFE_INTEGER }],
    ["*", { kind: "code", code: "*" }],
    ["+", { kind: "code", code: "+" }],
    ["*-3", { kind: "code", code: "*-3" }],
    ["*3.5", { kind: "code", code: "*3.5" }],
    ["*abc", { kind: "code", code: "*abc" }],
    ["3*", { kind: "code", code: "3*" }],
    ["OMQ1.abc.123.sig", { kind: "code", code: "OMQ1.abc.123.sig" }],
    [" OMQ1.x ", { kind: "code", code: "OMQ1.x" }],
    ["2900000000017", { kind: "code", code: "2900000000017" }],
    ["290000000001", { kind: "code", code: "290000000001" }],
    ["omq1.lower", { kind: "code", code: "omq1.lower" }],
  ];
  it.each(cases)("classifyScan(%j) is %j", (raw, expected) => {
    expect(classifyScan(raw), `what the scan field does with "${raw}"`).toEqual(expected);
  });
});
