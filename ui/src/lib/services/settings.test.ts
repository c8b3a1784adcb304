import { beforeEach, describe, expect, it, vi } from "vitest";
import { app } from "../state.svelte";
import { answer, refuse, resetApp, resetTill, settings, status } from "./fixtures";
import { changeLanguage, enrolTill, saveSettings } from "./settings";

vi.mock("@tauri-apps/api/core", () => ({ invoke: vi.fn() }));

beforeEach(() => {
  resetTill();
  resetApp();
});

describe("enrolTill", () => {
  it("keeps the status the till answers with", async () => {
    app.status = status();
    const linked = status({ sync: { ...status().sync, state: "online", online: true } });
    answer("enrol", linked);
    expect(await enrolTill("https://cloud.example", "ABC"), "the enrolment went through").toBe(true);
    expect(app.status, "the status bar shows the new link at once").toBe(linked);
  });

  it("keeps the old status when the cloud refuses the code", async () => {
    const before = status();
    app.status = before;
    refuse("enrol", "sync");
    expect(await enrolTill("https://cloud.example", "BAD"), "no enrolment").toBe(false);
    expect(app.status, "the till is still not linked").toBe(before);
    expect(app.message?.code, "the manager sees why").toBe("sync");
  });
});

describe("changeLanguage", () => {
  it("switches the labels to the language the till saved", async () => {
    app.status = status();
    answer("set_language", settings({ language: "zh-Hant" }));
    expect(await changeLanguage("zh-Hant"), "the till took it").toBe(true);
    expect(app.language, "every label follows the saved setting").toBe("zh-Hant");
  });
});

describe("saveSettings", () => {
  it("updates the store's tax mode and cash rounding with the settings", async () => {
    app.status = status();
    const saved = settings({ tax_mode: "exclusive", cash_rounding_minor: 5 });
    answer("settings_update", saved);
    expect(await saveSettings(saved), "the till took them").toBe(true);
    expect(app.status?.settings, "the settings screen shows what was saved").toEqual(saved);
    expect(app.status?.store?.tax_mode, "totals follow the new tax mode at once").toBe("exclusive");
    expect(app.status?.store?.cash_rounding_minor, "cash due follows the new rounding at once").toBe(5);
  });

  it("leaves the settings alone when the till refuses", async () => {
    app.status = status();
    refuse("settings_update", "not_manager");
    expect(await saveSettings(settings({ idle_lock_seconds: 60 })), "not saved").toBe(false);
    expect(app.status?.settings?.idle_lock_seconds, "the old setting stays in force").toBe(0);
  });
});
