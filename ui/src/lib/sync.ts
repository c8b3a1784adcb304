// The status bar's words for the sync engine's state. Pure, so the wording can be tested without
// a screen: the caller passes its translation and clock functions.

import type { SyncStatus } from "./api";
import type { MessageKey, Params } from "./i18n";
import { ageParts } from "./time";

export type Translate = (key: MessageKey, params?: Params) => string;

export interface SyncSummary {
  state: SyncStatus["state"];
  label: string; // "Online", "Sync: not set up"
  details: string[]; // "3 waiting to sync", "oldest 5 min", "last sync 14:02"
  // Why the last sync failed, in the till's language (the engine's English words when the till
  // sent no code), and those English words, for support.
  message: string | null;
  detail: string | null;
  // A download under way: entries done of the round's total, and the words for it.
  progress: { done: number; total: number; percent: number; label: string } | null;
  // Downloaded products still being indexed for search, and the words for it.
  indexing: { waiting: number; label: string } | null;
  // Operations sent again to a cloud restored from a backup, and the words for it.
  resending: { left: number; total: number; label: string } | null;
}

// The state, then (once sync is set up) how many operations wait and how old the oldest is, and
// when the last sync succeeded. `formatTime` turns an RFC 3339 time into clock text.
export function describeSync(
  sync: SyncStatus,
  nowMs: number,
  t: Translate,
  formatTime: (rfc3339: string) => string,
): SyncSummary {
  const details: string[] = [];
  if (sync.state !== "not_configured") {
    if (sync.pending > 0) {
      details.push(t("status.pending", { count: sync.pending }));
      const oldest = sync.oldest_pending_at ? Date.parse(sync.oldest_pending_at) : NaN;
      if (!Number.isNaN(oldest)) {
        const age = ageParts(oldest, nowMs);
        details.push(t("status.oldest", { age: t(`age.${age.unit}`, { n: age.value }) }));
      }
    }
    details.push(
      sync.last_sync_at
        ? t("status.lastSync", { time: formatTime(sync.last_sync_at) })
        : t("status.neverSynced"),
    );
  }
  return {
    state: sync.state,
    label: t(`status.sync.${sync.state}`),
    details,
    message: sync.problem ? t(`status.problem.${sync.problem}`) : sync.message,
    detail: sync.message,
    progress: describeProgress(sync, t),
    indexing: describeIndexing(sync, t),
    resending: describeResending(sync, t),
  };
}

// Shown while operations the restored cloud forgot are sent to it again.
export function describeResending(sync: SyncStatus, t: Translate): SyncSummary["resending"] {
  const left = Math.max(0, Math.floor(sync.resending ?? 0));
  const total = Math.max(left, Math.floor(sync.resend_total ?? 0));
  if (left === 0 || sync.state === "not_configured" || sync.state === "revoked") {
    return null;
  }
  const group = (n: number) => n.toLocaleString("en-US");
  return { left, total, label: t("status.resending", { left: group(left), total: group(total) }) };
}

// Shown after a large download while its products are indexed for search.
export function describeIndexing(sync: SyncStatus, t: Translate): SyncSummary["indexing"] {
  const waiting = Math.max(0, Math.floor(sync.search_waiting ?? 0));
  if (waiting === 0 || sync.state === "not_configured") {
    return null;
  }
  return { waiting, label: t("status.indexing", { count: waiting.toLocaleString("en-US") }) };
}

// The download's progress, shown while a round still has feed entries to fetch. Counts are
// grouped in thousands so "120,000 of 1,000,000" reads at a glance.
export function describeProgress(sync: SyncStatus, t: Translate): SyncSummary["progress"] {
  const done = Math.max(0, Math.floor(sync.downloaded ?? 0));
  const left = Math.max(0, Math.floor(sync.remaining ?? 0));
  if (sync.state === "not_configured" || sync.state === "revoked" || left === 0) {
    return null;
  }
  const total = done + left;
  const percent = Math.min(100, Math.floor((done * 100) / total));
  const group = (n: number) => n.toLocaleString("en-US");
  return { done, total, percent, label: t("status.downloading", { done: group(done), total: group(total) }) };
}
