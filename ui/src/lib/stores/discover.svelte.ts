// Discover: search results, the open model's page, and each of its files' fit (planned from the
// remote header, a few at a time).
import { api, toHearthError } from "$lib/api";
import type { FitPlan, HearthError, HubModel, HubModelPage, HubSort } from "$lib/api";

export type FileFit = { state: "loading" } | { state: "done"; plan: FitPlan } | { state: "error"; error: HearthError };

const speed = (fit: FileFit | undefined) =>
  fit?.state === "done" && fit.plan.tokensPerSecond ? (fit.plan.tokensPerSecond.low + fit.plan.tokensPerSecond.high) / 2 : 0;

/** The file to recommend: the best quality (largest) that is green, else the largest yellow — but
 * never one that decodes at less than 60 % of the speed of the fastest file of that colour. On a
 * machine without a GPU every file that fits in RAM is green, and "the largest" alone would
 * recommend an F16 that crawls. */
export function recommended(page: HubModelPage, fits: Record<string, FileFit>): string | null {
  const by = (verdict: string) => {
    const ok = page.files.filter((f) => {
      const fit = fits[f.name];
      return fit?.state === "done" && fit.plan.verdict === verdict;
    });
    const fastest = Math.max(0, ...ok.map((f) => speed(fits[f.name])));
    return ok.filter((f) => speed(fits[f.name]) >= 0.6 * fastest).sort((a, b) => b.sizeBytes - a.sizeBytes)[0]?.name ?? null;
  };
  return by("green") ?? by("yellow");
}

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
          const plan = await api.hubFileFit(page.model.id, f.name);
          this.fits[f.name] = { state: "done", plan };
        } catch (e) {
          this.fits[f.name] = { state: "error", error: toHearthError(e) };
        }
      }
    };
    await Promise.all([worker(), worker(), worker()]);
  }
}
