import { describe, expect, it } from "vitest";
import { toApiError } from "./errors";

describe("toApiError", () => {
  it("keeps a till error as it is", () => {
    expect(toApiError({ code: "unknown_barcode", message: "no product 123" })).toEqual({
      code: "unknown_barcode",
      message: "no product 123",
    });
  });

  it.each([
    ["a plain string from the Tauri runtime", "command cart_scan not found", "command cart_scan not found"],
    ["an unknown code", { code: "teapot", message: "x" }, '{"code":"teapot","message":"x"}'],
    ["a thrown TypeError", new TypeError("invoke is not a function"), "invoke is not a function"],
  ] as [string, unknown, string][])("turns %s into an internal error", (_name, raw, message) => {
    expect(toApiError(raw), "unknown failures are shown as internal errors").toEqual({
      code: "internal",
      message,
    });
  });
});
