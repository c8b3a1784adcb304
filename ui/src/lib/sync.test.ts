import { describe, expect, it } from "vitest";
import type { SyncStatus } from "./api";
import { translate } from "./i18n";
import { describeSync } from "./sync";

const now = Date.parse("2025-03-03T12:00:00Z");
const en = (key: Parameters<typeof translate>[1], params?: Parameters<typeof translate>[2]) =>
  translate("en", key, params);
const clock = (rfc3339: string) => rfc3339.slice(11, 16);

function status(partial: Partial<SyncStatus>): SyncStatus {
  return {
    state: "online",
    pending: 0,
    oldest_pending_at: null,
    last_sync_at: null,
    message: null,
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
    expect(s.message, "the engine's message is passed through").toBe("no route to host");
  });

  it("says never synced when online without a last sync time", () => {
    const s = describeSync(status({ state: "syncing" }), now, en, clock);
    expect(s.label).toBe("Syncing…");
    expect(s.details, "no pending, so only the last-sync part").toEqual(["never synced"]);
  });
});
