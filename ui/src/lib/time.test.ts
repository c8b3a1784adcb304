import { describe, expect, it } from "vitest";
import { ageParts, formatClock, formatInstant, formatTimestamp } from "./time";

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

describe("store time", () => {
  it.each([
    [0, "02:50"],
    [480, "10:50"], // Taipei, UTC+8
    [-300, "21:50"], // New York winter, UTC-5, the day before
  ] as [number, string][])("02:50 UTC at offset %i minutes is %s", (offset, expected) => {
    const instant = new Date(Date.UTC(2026, 10, 23, 2, 50, 0));
    expect(formatClock(instant, "en", offset), "the clock shows the store's local time").toBe(expected);
  });

  it("formats a receipt time in the store's time, not the machine's", () => {
    const text = formatTimestamp("2026-11-23T10:50:00+08:00", "en", 480);
    expect(text, "a Taipei receipt made at 10:50 reads 10:50").toContain("10:50");
  });

  it("formats an instant in ms as it formats the same RFC 3339 time, in each language", () => {
    const ms = Date.parse("2026-11-23T10:50:00+08:00");
    for (const language of ["en", "zh-Hant"] as const) {
      expect(formatInstant(ms, language, 480), "one instant reads the same either way").toBe(
        formatTimestamp("2026-11-23T10:50:00+08:00", language, 480),
      );
    }
    expect(formatInstant(ms, "en", 0), "a formatter kept for one offset is not stuck on it").toContain("02:50");
  });
});
