// The "what fits" grid: for this machine, or for an imagined one picked in the what-if picker.
import { api, toHearthError } from "$lib/api";
import type { CatalogGpu, FitGrid, HearthError, WhatIf, WhatIfPreset } from "$lib/api";

export class WhatFitsStore {
  grid = $state<FitGrid | null>(null);
  catalog = $state<CatalogGpu[]>([]);
  /** The budget configurations (entry, mid, high), from the advisor's price table. */
  presets = $state<WhatIfPreset[]>([]);
  /** `null` is this machine. */
  whatIf = $state<WhatIf | null>(null);
  error = $state<HearthError | null>(null);
  loading = $state(false);
  #request = 0;

  async load(): Promise<void> {
    const mine = ++this.#request;
    this.loading = true;
    try {
      const grid = await api.whatFits(this.whatIf);
      // A slower answer to an older choice must not overwrite a newer one.
      if (mine === this.#request) {
        this.grid = grid;
        this.error = null;
      }
    } catch (e) {
      if (mine === this.#request) this.error = toHearthError(e);
    } finally {
      if (mine === this.#request) this.loading = false;
    }
  }

  async loadCatalog(): Promise<void> {
    try {
      this.catalog = await api.gpuCatalog();
    } catch {
      this.catalog = [];
    }
    try {
      this.presets = await api.whatIfPresets();
    } catch {
      this.presets = [];
    }
  }

  imagine(whatIf: WhatIf | null): Promise<void> {
    this.whatIf = whatIf;
    return this.load();
  }
}
