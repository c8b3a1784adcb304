import { describe, expect, it } from "vitest";
import type { SyncStatus } from "./api";
import { translate } from "./i18n";
import { describeResending, describeSync } from "./sync";

const now = Date.parse("2025-03-03T12:00:00Z");
const en = (key: Parameters<typeof translate>[1], params?: Parameters<typeof translate>[2]) =>
  translate("en", key, params);
const clock = (rfc3339: string) => rfc3339.slice(11, 16);

function status(partial: Partial<SyncStatus>): SyncStatus {
  return {
    state: "online",
    online: true,
    pending: 0,
    oldest_pending_at: null,
    last_sync_at: null,
    problem: null,
    message: null,
    downloaded: 0,
    search_waiting: 0,
    remaining: 0,
    needs_review: 0,
    resending: 0,
    resend_total: 0,
    ...partial,
  };
}

describe("describeSync", () => {
  it("says sync is not set up and nothing else when it is not configured", () => {
    const s = describeSync(status({ state: "not_configured", pending: 4 }), now, en, clock);
    expect(s.label, "the cashier must see that sync is not set up").toBe("Sync: not set up");
    expect(s.details, "no pending count or last sync for an unconfigured till").toEqual([]);
  });

  it("shows offline with the pending count, age of the oldest and last sync", () => {
    const s = describeSync(
      status({
        state: "offline",
        pending: 3,
        oldest_pending_at: "2025-03-03T11:55:00Z",
        last_sync_at: "2025-03-03T11:50:00Z",
        message: "no route to host",
      }),
      now,
      en,
      clock,
    );
    expect(s.label).toBe("Offline");
    expect(s.details, "pending, oldest age and last sync, in that order").toEqual([
      "3 waiting to sync",
      "oldest 5 min",
      "last sync 11:50",
    ]);
    expect(s.message, "without a code, the engine's message is passed through").toBe("no route to host");
  });

  it("words the engine's failure in the till's language and keeps its own words as detail", () => {
    const sync = status({
      state: "offline",
      problem: "unreachable",
      message: "the cloud cannot be reached",
    });
    const zh = (key: Parameters<typeof translate>[1], params?: Parameters<typeof translate>[2]) =>
      translate("zh-Hant", key, params);
    const s = describeSync(sync, now, zh, clock);
    expect(s.message, "a Chinese-speaking cashier reads why in Chinese").toBe("無法連線到雲端");
    expect(s.detail, "support still has the engine's words").toBe("the cloud cannot be reached");
  });

  it("says never synced when online without a last sync time", () => {
    const s = describeSync(status({ state: "syncing" }), now, en, clock);
    expect(s.label).toBe("Syncing…");
    expect(s.details, "no pending, so only the last-sync part").toEqual(["never synced"]);
  });
});

describe("download progress", () => {
  it("shows counts and a percentage while a first sync downloads", () => {
    const s = describeSync(status({ state: "syncing", downloaded: 250_000, remaining: 750_000 }), now, en, clock);
    expect(s.progress, "a large first download must show how far it got").toEqual({
      done: 250_000,
      total: 1_000_000,
      percent: 25,
      label: "Downloading catalog and stock: 250,000 of 1,000,000",
    });
  });

  it("shows no bar when nothing is left to download", () => {
    const s = describeSync(status({ state: "online", downloaded: 600, remaining: 0 }), now, en, clock);
    expect(s.progress, "a finished download leaves no bar behind").toBeNull();
  });

  it("shows no bar for a revoked or unconfigured till", () => {
    for (const state of ["revoked", "not_configured"] as const) {
      const s = describeSync(status({ state, downloaded: 5, remaining: 5 }), now, en, clock);
      expect(s.progress, `${state}: nothing downloads`).toBeNull();
    }
  });

  it("says the counts in Chinese too", () => {
    const zh = (key: Parameters<typeof translate>[1], params?: Parameters<typeof translate>[2]) =>
      translate("zh-Hant", key, params);
    const s = describeSync(status({ state: "syncing", downloaded: 1, remaining: 3 }), now, zh, clock);
    expect(s.progress?.label).toBe("下載商品與庫存中：1 / 4");
  });
});

describe("search indexing", () => {
  it("tells the cashier that scanning works while search is prepared", () => {
    const s = describeSync(status({ state: "online", search_waiting: 420_000 }), now, en, clock);
    expect(s.indexing, "a large download's products are indexed after it").toEqual({
      waiting: 420_000,
      label: "Preparing search: 420,000 products left (scanning works now)",
    });
  });

  it("says nothing once every product is indexed", () => {
    const s = describeSync(status({ state: "online" }), now, en, clock);
    expect(s.indexing).toBeNull();
  });
});

describe("describeResending", () => {
  const zh = (key: Parameters<typeof translate>[1], params?: Parameters<typeof translate>[2]) =>
    translate("zh-Hant", key, params);

  it("says the cloud was restored and how many operations are sent again, in both languages", () => {
    const s = describeSync(status({ state: "syncing", pending: 5, resending: 3, resend_total: 1200 }), now, en, clock);
    expect(s.resending, "the manager must see why sales are being sent again").toEqual({
      left: 3,
      total: 1200,
      label: "The cloud was restored from a backup: sending 1,200 sales and refunds again (3 left)",
    });
    expect(describeResending(status({ resending: 2, resend_total: 4 }), zh)?.label).toBe(
      "雲端已從備份還原：正在重新傳送 4 筆銷售與退貨（尚餘 2 筆）",
    );
  });

  it("says nothing once everything is sent, or when sync is not set up", () => {
    expect(describeResending(status({ resending: 0, resend_total: 4 }), en)).toBeNull();
    expect(describeResending(status({ state: "not_configured", resending: 2, resend_total: 4 }), en)).toBeNull();
  });
});
