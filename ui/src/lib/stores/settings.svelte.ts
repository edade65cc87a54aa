// Settings: read once when the view opens; each save sends only what changed and shows the result.
import { api, toHearthError } from "$lib/api";
import type { HearthError, Settings, SettingsChange } from "$lib/api";

export class SettingsStore {
  current = $state<Settings | null>(null);
  error = $state<HearthError | null>(null);
  saved = $state<string | null>(null);
  saving = $state(false);

  async load(): Promise<void> {
    try {
      this.current = await api.settingsGet();
      this.error = null;
    } catch (e) {
      this.error = toHearthError(e);
    }
  }

  /** Save one change; `what` names it in the confirmation ("Models folder saved."). */
  async save(change: SettingsChange, what: string): Promise<boolean> {
    this.saving = true;
    this.saved = null;
    try {
      this.current = await api.settingsUpdate(change);
      this.error = null;
      this.saved = what;
      return true;
    } catch (e) {
      this.error = toHearthError(e);
      return false;
    } finally {
      this.saving = false;
    }
  }
}

export const settings = new SettingsStore();
