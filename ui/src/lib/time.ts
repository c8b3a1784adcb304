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

const STYLES = {
  clock: { hour: "2-digit", minute: "2-digit", hour12: false, timeZone: "UTC" },
  date: { weekday: "short", year: "numeric", month: "short", day: "numeric", timeZone: "UTC" },
  timestamp: {
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    hour12: false,
    timeZone: "UTC",
  },
} satisfies Record<string, Intl.DateTimeFormatOptions>;

// One formatter per language and style: making one costs far more than using it, and a list
// of 200 pickup orders formats 400 times.
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(language: Language, style: keyof typeof STYLES): Intl.DateTimeFormat {
  const key = `${language}/${style}`;
  let made = formatters.get(key);
  if (!made) {
    made = new Intl.DateTimeFormat(localeFor(language), STYLES[style]);
    formatters.set(key, made);
  }
  return made;
}

// "14:05" in the store's local time.
export function formatClock(date: Date, language: Language, offsetMinutes: number): string {
  return formatter(language, "clock").format(inStoreTime(date, offsetMinutes));
}

// "Mon 3 Mar 2025" or "2025年3月3日 週一".
export function formatDate(date: Date, language: Language, offsetMinutes: number): string {
  return formatter(language, "date").format(inStoreTime(date, offsetMinutes));
}

// "3 Mar 14:05" for an instant in Unix ms.
export function formatInstant(ms: number, language: Language, offsetMinutes: number): string {
  return formatter(language, "timestamp").format(inStoreTime(new Date(ms), offsetMinutes));
}

// "3 Mar 14:05" for an RFC 3339 timestamp, or the text itself when it cannot be read.
export function formatTimestamp(rfc3339: string, language: Language, offsetMinutes: number): string {
  const date = new Date(rfc3339);
  if (Number.isNaN(date.getTime())) return rfc3339;
  return formatter(language, "timestamp").format(inStoreTime(date, offsetMinutes));
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
