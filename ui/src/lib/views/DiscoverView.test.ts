import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import type { FitPlan, HubModelPage } from "$lib/api";

const calls = vi.hoisted(() => ({ search: vi.fn(), next: vi.fn(), model: vi.fn(), fit: vi.fn(), recommend: vi.fn() }));
vi.mock("$lib/api", async () => {
  const real = await vi.importActual<typeof import("$lib/api/index")>("$lib/api/index");
  return { ...real, api: { hubSearch: calls.search, hubSearchNext: calls.next, hubModel: calls.model, hubFileFit: calls.fit, hubRecommend: calls.recommend } };
});
// The generated values (ERROR_CODES) stay; only the commands are replaced.
vi.mock("$lib/api/bindings", async (original) => ({ ...(await original<object>()), commands: {} }));

import DiscoverView from "./DiscoverView.svelte";

const model = { id: "bartowski/Qwen2.5-7B-Instruct-GGUF", author: "bartowski", downloads: 123456, likes: 321, gated: false, updated: null, parameters: 7.6e9, architecture: "qwen2" };

function plan(verdict: FitPlan["verdict"], label: string): FitPlan {
  return {
    verdict, label, reason: "why", mode: "cpu", gpuLayers: 0, totalLayers: 29, context: 8192, requestedContext: 8192, slots: 1,
    cacheK: "f16", cacheV: "f16", flashAttention: true, devices: [], totalBytes: 5e9, tokensPerSecond: verdict === "red" ? null : { low: 8, high: 12, expected: 10 },
  };
}

const page: HubModelPage = {
  model,
  card: "---\nlicense: apache-2.0\n---\n# Qwen\n<img src=x onerror=alert(1)><script>alert(2)</script>\n[ok](https://example.com)",
  files: [
    { name: "Q-Q4_K_M.gguf", quant: "Q4_K_M", parts: ["Q-Q4_K_M.gguf"], sizeBytes: 4.7e9 },
    { name: "Q-Q8_0.gguf", quant: "Q8_0", parts: ["Q-Q8_0.gguf"], sizeBytes: 8.1e9 },
    { name: "Q-F16-00001-of-00002.gguf", quant: "F16", parts: ["Q-F16-00001-of-00002.gguf", "Q-F16-00002-of-00002.gguf"], sizeBytes: 15.2e9 },
  ],
  projectors: [],
};

afterEach(cleanup);

describe("DiscoverView", () => {
  it("searches as you type and shows what a person needs to choose", async () => {
    calls.search.mockResolvedValue({ models: [model], next: null });
    render(DiscoverView, { debounceMs: 1 });
    const row = await screen.findByTestId("discover-result");
    expect(row.textContent).toContain("Qwen2.5-7B-Instruct-GGUF");
    expect(row.textContent).toContain("123k");
    expect(row.textContent).toContain("7.6B");
    await fireEvent.input(screen.getByTestId("discover-search"), { target: { value: "qwen" } });
    await waitFor(() => expect(calls.search).toHaveBeenLastCalledWith("qwen", "downloads"));
  });

  it("colours every file, recommends the best that fits, and renders the card safely", async () => {
    calls.search.mockResolvedValue({ models: [model], next: null });
    calls.model.mockResolvedValue(page);
    calls.recommend.mockResolvedValue("Q-Q8_0.gguf");
    calls.fit.mockImplementation(async (_repo: string, file: string) =>
      file.includes("Q4") ? plan("green", "Fits in RAM") : file.includes("Q8") ? plan("yellow", "Fits at 4K context") : plan("red", "Too large"),
    );
    render(DiscoverView, { debounceMs: 1 });
    await fireEvent.click(await screen.findByTestId("discover-result"));
    await waitFor(() => expect(screen.getAllByTestId("file-fit").map((c) => c.dataset.verdict)).toEqual(["green", "yellow", "red"]));
    // Rust chooses (fit::recommend, as `hearth pull` does) from every file's plan; the view marks it.
    await waitFor(() => expect(calls.recommend).toHaveBeenCalledTimes(1));
    expect(calls.recommend.mock.calls[0][0].map((f: { name: string; plan: FitPlan }) => [f.name, f.plan.verdict])).toEqual([
      ["Q-Q4_K_M.gguf", "green"],
      ["Q-Q8_0.gguf", "yellow"],
      ["Q-F16-00001-of-00002.gguf", "red"],
    ]);
    const rec = await screen.findByTestId("recommended");
    expect(rec.closest("tr")?.dataset.file).toBe("Q-Q8_0.gguf");
    expect(screen.getByText("2 parts")).toBeTruthy();
    const card = screen.getByTestId("model-card");
    expect(card.querySelector("script")).toBeNull();
    expect(card.innerHTML).not.toContain("onerror");
    expect(card.textContent).not.toContain("license: apache");
    expect(card.querySelector("h1")?.textContent).toBe("Qwen");
  });

  it("says plainly when the Hub cannot be reached", async () => {
    calls.search.mockRejectedValue({ code: "HUB_UNREACHABLE", message: "The Hub cannot be reached: dns error.", details: null });
    render(DiscoverView, { debounceMs: 1 });
    const alert = await screen.findByTestId("discover-error");
    expect(alert.textContent).toContain("You are offline");
    expect(alert.textContent).toContain("everything else");
  });
});
