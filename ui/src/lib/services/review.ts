// The manager's review list: the operations the cloud refused for a business reason and the
// member conflicts it found, as one list, newest first; and marking one dealt with, with a note
// (a conflict's resolution syncs to the cloud).

import { api, type MemberConflict, type Refusal } from "../api";
import { attempt } from "../state.svelte";

// One entry of the list; `key` is unique across both kinds, `done` says it was marked.
export type ReviewItem =
  | { kind: "refusal"; key: string; at: number; done: boolean; refusal: Refusal }
  | { kind: "conflict"; key: string; at: number; done: boolean; conflict: MemberConflict };

// Both kinds as one list, newest first.
export function reviewItems(refusals: Refusal[], conflicts: MemberConflict[]): ReviewItem[] {
  const items: ReviewItem[] = [
    ...refusals.map((r): ReviewItem => ({
      kind: "refusal",
      key: `r${r.seq}`,
      at: r.created_at_ms,
      done: r.resolved_at_ms !== null,
      refusal: r,
    })),
    ...conflicts.map((c): ReviewItem => ({
      kind: "conflict",
      key: `c${c.id}`,
      at: c.created_at_ms,
      done: c.resolved_at_ms !== null,
      conflict: c,
    })),
  ];
  return items.sort((a, b) => b.at - a.at);
}

// The list, with the entries already dealt with when `includeDone`. Returns undefined after
// showing why it could not be read.
export async function loadReviewList(includeDone: boolean): Promise<ReviewItem[] | undefined> {
  const lists = await attempt(() =>
    Promise.all([api.refusalsList(includeDone), api.memberConflicts(includeDone)]),
  );
  return lists && reviewItems(...lists);
}

// Marks an entry reviewed (a refusal) or resolved (a conflict). Returns true once the till
// has noted it.
export function markReviewed(item: ReviewItem, note: string): Promise<boolean | undefined> {
  return attempt(async () => {
    if (item.kind === "refusal") await api.refusalReview(item.refusal.seq, note);
    else await api.conflictResolve(item.conflict.id, note);
    return true;
  });
}
