import { describe, expect, it } from "vitest";
import { ERROR_CODES } from "./errors";
import { LANGUAGES, dictionaries, placeholders, translate } from "./i18n";

describe("dictionaries", () => {
  const en = Object.keys(dictionaries.en).sort();
  const zh = Object.keys(dictionaries["zh-Hant"]).sort();

  it("every English key has a Traditional Chinese label", () => {
    const missing = en.filter((k) => !(k in dictionaries["zh-Hant"]));
    expect(missing, "keys in en but missing from zh-Hant").toEqual([]);
  });

  it("every Traditional Chinese key has an English label", () => {
    const missing = zh.filter((k) => !(k in dictionaries.en));
    expect(missing, "keys in zh-Hant but missing from en").toEqual([]);
  });

  it.each(LANGUAGES)("no %s label is empty", (language) => {
    const empty = Object.entries(dictionaries[language])
      .filter(([, text]) => text.trim() === "")
      .map(([key]) => key);
    expect(empty, `empty labels in ${language}`).toEqual([]);
  });

  it("both languages use the same placeholders for each key", () => {
    const mismatched = en.filter(
      (key) =>
        placeholders(dictionaries.en[key as keyof typeof dictionaries.en]).join() !==
        placeholders(dictionaries["zh-Hant"][key as keyof typeof dictionaries.en]).join(),
    );
    expect(mismatched, "keys whose {placeholders} differ between en and zh-Hant").toEqual([]);
  });
});

describe("error messages", () => {
  // ERROR_CODES is exactly the ErrorCode type generated from the till's Rust enum: errors.ts
  // does not compile when the two differ.
  const codes: readonly string[] = ERROR_CODES;

  it.each(LANGUAGES)("every ErrorCode has a %s message", (language) => {
    const dictionary = dictionaries[language] as Record<string, string>;
    const missing = codes.filter((code) => !dictionary[`error.${code}`]);
    expect(missing, `error codes without a message in ${language}`).toEqual([]);
  });

  it("no error message is the same in both languages (a forgotten translation)", () => {
    const same = codes.filter(
      (code) =>
        (dictionaries.en as Record<string, string>)[`error.${code}`] ===
        (dictionaries["zh-Hant"] as Record<string, string>)[`error.${code}`],
    );
    expect(same, "error messages that were not translated").toEqual([]);
  });
});

describe("translate", () => {
  it("fills placeholders", () => {
    expect(translate("en", "msg.added", { name: "Oolong tea" })).toBe("Added: Oolong tea");
    expect(translate("zh-Hant", "msg.added", { name: "烏龍茶" })).toBe("已加入：烏龍茶");
  });

  it("leaves a placeholder without a value visible instead of printing undefined", () => {
    expect(translate("en", "msg.added", {}), "a missing value must stay visible").toBe(
      "Added: {name}",
    );
  });

  it("says the cashier's words for a barcode the catalog does not know", () => {
    expect(translate("en", "error.unknown_barcode")).toBe("This barcode is not in the catalog");
  });
});
