import { beforeEach, describe, expect, it, vi } from "vitest";
import { app } from "../state.svelte";
import { answer, callsOf, conflict, refuse, refusal, resetApp, resetTill } from "./fixtures";
import { loadReviewList, markReviewed, reviewItems } from "./review";

vi.mock("@tauri-apps/api/core", () => ({ invoke: vi.fn() }));

beforeEach(() => {
  resetTill();
  resetApp();
});

describe("reviewItems", () => {
  it("lists refusals and conflicts together, newest first", () => {
    const items = reviewItems([refusal(1, 100), refusal(2, 300, true)], [conflict("a", 200)]);
    expect(items.map((i) => i.key), "one list by time, with keys unique across both kinds").toEqual([
      "r2",
      "ca",
      "r1",
    ]);
    expect(items.map((i) => i.done), "a resolved entry is done").toEqual([true, false, false]);
  });
});

describe("loadReviewList", () => {
  it("asks for both kinds, done ones too when asked", async () => {
    answer("refusals_list", [refusal(1, 100)]);
    answer("member_conflicts", [conflict("a", 200)]);
    const items = await loadReviewList(true);
    expect(callsOf("refusals_list"), "done refusals are included").toEqual([{ includeReviewed: true }]);
    expect(callsOf("member_conflicts"), "done conflicts are included").toEqual([
      { includeResolved: true },
    ]);
    expect(items?.map((i) => i.key), "both kinds, newest first").toEqual(["ca", "r1"]);
  });

  it("answers undefined and shows why when either list cannot be read", async () => {
    answer("refusals_list", [refusal(1, 100)]);
    refuse("member_conflicts", "not_manager");
    expect(await loadReviewList(false), "half a list would hide work").toBeUndefined();
    expect(app.message?.code, "the banner says why").toBe("not_manager");
  });
});

describe("markReviewed", () => {
  it("marks a refusal reviewed and a conflict resolved, each with the note", async () => {
    answer("refusal_review", refusal(1, 100, true));
    answer("conflict_resolve", conflict("a", 200, true));
    const [refused, conflicting] = reviewItems([refusal(1, 100)], [conflict("a", 50)]);
    expect(await markReviewed(refused, "called the customer"), "the till noted it").toBe(true);
    expect(await markReviewed(conflicting, "ok"), "the till noted it").toBe(true);
    expect(callsOf("refusal_review"), "a refusal is reviewed by its seq").toEqual([
      { seq: 1, note: "called the customer" },
    ]);
    expect(callsOf("conflict_resolve"), "a conflict is resolved by its id").toEqual([
      { conflictId: "a", note: "ok" },
    ]);
  });
});
