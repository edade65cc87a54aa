// Discover: search results, the open model's page, and each of its files' fit (planned from the
// remote header, a few at a time).
import { api, toHearthError } from "$lib/api";
import type { FitPlan, HearthError, HubModel, HubModelPage, HubSort, PlannedFile } from "$lib/api";

export type FileFit = { state: "loading" } | { state: "done"; plan: FitPlan } | { state: "error"; error: HearthError };

export class DiscoverStore {
  query = $state("");
  sort = $state<HubSort>("downloads");
  results = $state<HubModel[]>([]);
  next = $state<string | null>(null);
  searching = $state(false);
  error = $state<HearthError | null>(null);
  page = $state<HubModelPage | null>(null);
  pageError = $state<HearthError | null>(null);
  fits = $state<Record<string, FileFit>>({});
  /** The file Rust recommends once every file is planned (`fit::recommend`: what `hearth pull`
   * downloads too). */
  recommended = $state<string | null>(null);
  #search = 0;

  async search(): Promise<void> {
    const mine = ++this.#search;
    this.searching = true;
    try {
      const r = await api.hubSearch(this.query, this.sort);
      if (mine !== this.#search) return;
      this.results = r.models;
      this.next = r.next;
      this.error = null;
    } catch (e) {
      if (mine === this.#search) this.error = toHearthError(e);
    } finally {
      if (mine === this.#search) this.searching = false;
    }
  }

  async more(): Promise<void> {
    if (!this.next) return;
    try {
      const r = await api.hubSearchNext(this.next);
      this.results = [...this.results, ...r.models];
      this.next = r.next;
    } catch (e) {
      this.error = toHearthError(e);
    }
  }

  async open(repo: string): Promise<void> {
    this.page = null;
    this.pageError = null;
    this.fits = {};
    this.recommended = null;
    try {
      const page = await api.hubModel(repo);
      this.page = page;
      await this.planFiles(page);
    } catch (e) {
      this.pageError = toHearthError(e);
    }
  }

  close(): void {
    this.page = null;
    this.pageError = null;
  }

  /** Plan every file from its header, three requests at a time. */
  async planFiles(page: HubModelPage): Promise<void> {
    const queue = [...page.files];
    for (const f of queue) this.fits[f.name] = { state: "loading" };
    const worker = async () => {
      for (let f = queue.shift(); f; f = queue.shift()) {
        try {
          const plan = await api.hubFileFit(page.model.id, f.name, page.projectors);
          this.fits[f.name] = { state: "done", plan };
        } catch (e) {
          this.fits[f.name] = { state: "error", error: toHearthError(e) };
        }
      }
    };
    await Promise.all([worker(), worker(), worker()]);
    const planned: PlannedFile[] = page.files.flatMap((f) => {
      const fit = this.fits[f.name];
      return fit?.state === "done" ? [{ name: f.name, sizeBytes: f.sizeBytes, plan: fit.plan }] : [];
    });
    const chosen = await api.hubRecommend(planned);
    // Only if the same model is still open (the page is a proxy, so compare by id).
    if (this.page?.model.id === page.model.id) this.recommended = chosen;
  }
}
