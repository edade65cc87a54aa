// My Models: the library as the backend lists it (scanned afresh on every refresh), with import and
// delete. Errors are kept for the view to show; nothing here throws at the view.
import { api, toHearthError } from "$lib/api";
import type { HearthError, LocalModel } from "$lib/api";

export class ModelsStore {
  items = $state<LocalModel[]>([]);
  loading = $state(false);
  error = $state<HearthError | null>(null);
  /** The last thing an action did, for a calm line under the header. */
  notice = $state<string | null>(null);

  async refresh(): Promise<void> {
    this.loading = true;
    try {
      this.items = await api.modelsList();
      this.error = null;
    } catch (e) {
      this.error = toHearthError(e);
    } finally {
      this.loading = false;
    }
  }

  /** Open the system's picker and import what is chosen, in place. */
  async pickAndImport(folder: boolean): Promise<void> {
    await this.act(async () => {
      const n = await api.modelPickAndImport(folder);
      if (n === null) return null;
      return n === 1 ? "Imported 1 model." : `Imported ${n} models.`;
    });
  }

  async importPath(path: string): Promise<void> {
    await this.act(async () => {
      const n = await api.modelImport(path);
      return n === 1 ? "Imported 1 model." : `Imported ${n} models.`;
    });
  }

  async remove(m: LocalModel): Promise<void> {
    await this.act(async () => {
      const what = await api.modelDelete(m.id);
      return what === "deleted" ? `Deleted ${m.fileName}.` : `${m.fileName} is no longer listed; the file is still on disk.`;
    });
  }

  async reveal(m: LocalModel): Promise<void> {
    try {
      await api.modelReveal(m.id);
    } catch (e) {
      this.error = toHearthError(e);
    }
  }

  private async act(f: () => Promise<string | null>): Promise<void> {
    try {
      const said = await f();
      if (said) this.notice = said;
      this.error = null;
    } catch (e) {
      this.error = toHearthError(e);
      this.notice = null;
    }
    await this.refresh();
  }
}

export const models = new ModelsStore();
