// Clock and age text for the status bar and receipt lists. Times come from the till as RFC 3339.

import type { Language } from "./api";

export function localeFor(language: Language): string {
  return language === "zh-Hant" ? "zh-TW" : "en-GB";
}

// Times are shown in the store's local time, whatever the machine's time zone is, so the screen
// agrees with the printed receipt. The instant is shifted by the store's offset and formatted
// as UTC, which every engine supports.
function inStoreTime(date: Date, offsetMinutes: number): Date {
  return new Date(date.getTime() + offsetMinutes * 60_000);
}

// "14:05" in the store's local time.
export function formatClock(date: Date, language: Language, offsetMinutes: number): string {
  return new Intl.DateTimeFormat(localeFor(language), {
    hour: "2-digit",
    minute: "2-digit",
    hour12: false,
    timeZone: "UTC",
  }).format(inStoreTime(date, offsetMinutes));
}

// "Mon 3 Mar 2025" or "2025年3月3日 週一".
export function formatDate(date: Date, language: Language, offsetMinutes: number): string {
  return new Intl.DateTimeFormat(localeFor(language), {
    weekday: "short",
    year: "numeric",
    month: "short",
    day: "numeric",
    timeZone: "UTC",
  }).format(inStoreTime(date, offsetMinutes));
}

// "3 Mar 14:05" for an RFC 3339 timestamp, or the text itself when it cannot be read.
export function formatTimestamp(rfc3339: string, language: Language, offsetMinutes: number): string {
  const date = new Date(rfc3339);
  if (Number.isNaN(date.getTime())) return rfc3339;
  return new Intl.DateTimeFormat(localeFor(language), {
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    hour12: false,
    timeZone: "UTC",
  }).format(inStoreTime(date, offsetMinutes));
}

export type AgeUnit = "s" | "min" | "h" | "d";

// How long ago something happened, in the largest whole unit: 45 s, 5 min, 2 h, 3 d.
// A time in the future (a clock skew) counts as 0 s.
export function ageParts(thenMs: number, nowMs: number): { value: number; unit: AgeUnit } {
  const seconds = Math.max(0, Math.floor((nowMs - thenMs) / 1000));
  if (seconds < 60) return { value: seconds, unit: "s" };
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return { value: minutes, unit: "min" };
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return { value: hours, unit: "h" };
  return { value: Math.floor(hours / 24), unit: "d" };
}
