// The till's settings and its link to the cloud. The till answers each change with what it now
// holds, which is kept in app.status so that every screen shows it.

import { api, type Language, type Settings } from "../api";
import { app, attempt } from "../state.svelte";

// Switches the language of the till (anyone may). Returns whether the till took it.
export async function changeLanguage(language: Language): Promise<boolean> {
  const settings = await attempt(() => api.setLanguage(language));
  if (!settings || !app.status) return false;
  app.status.settings = settings;
  return true;
}

// Saves a manager's settings; the store's tax mode and cash rounding follow them at once.
// Returns whether the till took them.
export async function saveSettings(next: Settings): Promise<boolean> {
  const saved = await attempt(() => api.settingsUpdate(next));
  if (!saved || !app.status) return false;
  app.status.settings = saved;
  if (app.status.store) {
    app.status.store.tax_mode = saved.tax_mode;
    app.status.store.cash_rounding_minor = saved.cash_rounding_minor;
  }
  return true;
}

// Links the till to the brand's cloud with its address and a one-time code. The till answers
// with a new AppStatus (the link's state changes). Returns whether the enrolment went through.
export async function enrolTill(cloudUrl: string, code: string): Promise<boolean> {
  const status = await attempt(() => api.enrol(cloudUrl, code));
  if (!status) return false;
  app.status = status;
  return true;
}
