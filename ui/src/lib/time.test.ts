import { describe, expect, it } from "vitest";
import { ageParts } from "./time";

describe("ageParts", () => {
  const now = Date.UTC(2025, 0, 1, 12, 0, 0);
  it.each([
    [0, { value: 0, unit: "s" }],
    [-5, { value: 0, unit: "s" }], // a timestamp in the future
    [45, { value: 45, unit: "s" }],
    [60, { value: 1, unit: "min" }],
    [59 * 60 + 59, { value: 59, unit: "min" }],
    [3600, { value: 1, unit: "h" }],
    [47 * 3600, { value: 47, unit: "h" }],
    [48 * 3600, { value: 2, unit: "d" }],
    [10 * 86400, { value: 10, unit: "d" }],
  ] as [number, { value: number; unit: string }][])("%i seconds ago is %j", (seconds, expected) => {
    expect(ageParts(now - seconds * 1000, now), "age in the largest whole unit").toEqual(expected);
  });
});
