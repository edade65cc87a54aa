// The download list for the Downloads view and the indicator in the frame, pushed by the backend
// whenever a download moves (at most every 250 ms) rather than asked for on a timer.
import { api, toHearthError } from "$lib/api";
import type { DownloadItem, HearthError } from "$lib/api";

export class DownloadsStore {
  items = $state<DownloadItem[]>([]);
  error = $state<HearthError | null>(null);

  /** Downloads still to finish: what the frame's indicator counts. */
  get active(): number {
    return this.items.filter((d) => d.state === "running" || d.state === "queued").length;
  }

  async refresh(): Promise<void> {
    try {
      this.items = await api.downloadsList();
      this.error = null;
    } catch (e) {
      this.error = toHearthError(e);
    }
  }

  /** Follows the list as the backend pushes it; the returned function stops following. */
  follow(): () => void {
    let following = true;
    api
      .downloadsWatch((items) => {
        if (!following) return;
        this.items = items;
        this.error = null;
      })
      .catch((e) => (this.error = toHearthError(e)));
    return () => {
      following = false;
    };
  }

  async start(repo: string, file: string): Promise<void> {
    await api.downloadModel(repo, file);
    await this.refresh();
  }

  async pause(id: number) {
    await api.downloadPause(id);
    await this.refresh();
  }
  async resume(id: number) {
    await api.downloadResume(id);
    await this.refresh();
  }
  async cancel(id: number) {
    await api.downloadCancel(id);
    await this.refresh();
  }
}

export const downloads = new DownloadsStore();
