import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import type { FitPlan, LocalModel } from "$lib/api";

const calls = vi.hoisted(() => ({ list: vi.fn(), del: vi.fn(), pick: vi.fn(), reveal: vi.fn(), imp: vi.fn(), advice: vi.fn() }));
vi.mock("$lib/api", async () => {
  const real = await vi.importActual<typeof import("$lib/api/index")>("$lib/api/index");
  return {
    ...real,
    api: { modelsList: calls.list, modelDelete: calls.del, modelPickAndImport: calls.pick, modelReveal: calls.reveal, modelImport: calls.imp, modelAdvice: calls.advice, connectionsList: () => Promise.resolve([]), remoteModels: () => Promise.resolve([]), chatRemote: () => Promise.resolve(null), modelLoadEstimate: () => Promise.resolve(null) },
  };
});
// The generated values (ERROR_CODES) stay; only the commands are replaced.
vi.mock("$lib/api/bindings", async (original) => ({ ...(await original<object>()), commands: {} }));

import ModelsView from "./ModelsView.svelte";
import { ModelsStore } from "$lib/stores/models.svelte";

const GIB = 1024 ** 3;
const plan = (verdict: FitPlan["verdict"]): FitPlan => ({
  verdict, label: verdict === "green" ? "Runs in RAM" : "Too large", reason: "why", mode: "cpu", gpuLayers: 0, totalLayers: 33,
  context: 4096, requestedContext: 4096, slots: 1, cacheK: "f16", cacheV: "f16", flashAttention: false, devices: [], totalBytes: 5 * GIB,
  tokensPerSecond: verdict === "green" ? { low: 10, high: 12, expected: 11 } : null,
});
const model = (over: Partial<LocalModel>): LocalModel => ({
  id: 1, path: "/home/a/.local/share/hearth/models/org/M-GGUF/M-Q4_K_M.gguf", fileName: "M-Q4_K_M.gguf", origin: "downloaded",
  repo: "org/M-GGUF", sizeBytes: 4.6 * GIB, parts: 1, architecture: "llama", parameters: 8e9, quant: "Q4_K_M", contextLength: 131072,
  plan: plan("green"), problem: null, run: null, chatTemplate: null, ...over,
});

afterEach(() => {
  cleanup();
  vi.clearAllMocks();
});

describe("ModelsView", () => {
  it("says what would run a model that does not fit: buy or rent, with prices, speed and the commands", async () => {
    calls.list.mockResolvedValue([model({}), model({ id: 2, fileName: "Llama-70B-Q4_K_M.gguf", path: "/m/Llama-70B-Q4_K_M.gguf", plan: plan("red") })]);
    const green = { detail: "Full GPU. Every layer fits.", verdict: "green", commands: [], usd: null, usdPerHour: null, usdPerMillionTokens: null } as const;
    calls.advice.mockResolvedValue({
      pricesDate: "2026-11",
      pricesSource: "typical prices",
      options: [
        { ...green, kind: "buy", title: "2 × RTX 3090 24 GB (used)", usd: 1500, tokensPerSecond: { low: 14, high: 20, expected: 17 } },
        {
          ...green, kind: "rent", title: "1 × A100 80GB, rented", usdPerHour: 1.4, usdPerMillionTokens: 15.6, tokensPerSecond: { low: 20, high: 30, expected: 25 },
          commands: ["llama-server -m Llama-70B-Q4_K_M.gguf -ngl 999 -c 8192"],
        },
      ],
    });
    render(ModelsView, { store: new ModelsStore() });
    await waitFor(() => expect(screen.getAllByTestId("advise")).toHaveLength(1));
    await fireEvent.click(screen.getByTestId("advise"));
    expect(calls.advice).toHaveBeenCalledWith("/m/Llama-70B-Q4_K_M.gguf");
    await waitFor(() => expect(screen.getAllByTestId("advice-option")).toHaveLength(2));
    const [buy, rent] = screen.getAllByTestId("advice-option");
    expect(buy.textContent).toContain("about $1,500");
    expect(rent.textContent).toContain("$1.40 an hour · $15.60 per million tokens");
    expect(rent.textContent).toContain("≈ 25 tok/s");
    expect(rent.querySelector("code")?.textContent).toBe("llama-server -m Llama-70B-Q4_K_M.gguf -ngl 999 -c 8192");
    expect(screen.getByTestId("advice").textContent).toContain("Prices as of 2026-11");
  });

  it("lists each model with its facts, fit and speed, and where it came from", async () => {
    calls.list.mockResolvedValue([
      model({}),
      model({ id: 2, fileName: "Big-Q4_K_M.gguf", origin: "lmStudio", repo: null, path: "/home/a/.lmstudio/models/x/Big-Q4_K_M.gguf", plan: plan("red") }),
      model({ id: 3, fileName: "junk.gguf", origin: "imported", repo: null, plan: null, problem: "Not a readable GGUF model: bad magic" }),
    ]);
    render(ModelsView, { store: new ModelsStore() });
    await waitFor(() => expect(screen.getAllByTestId("local-model")).toHaveLength(3));
    expect(screen.getByText("3 models · 13.8 GB on disk")).toBeTruthy();
    const [first, big, junk] = screen.getAllByTestId("local-model");
    expect(first.dataset.verdict).toBe("green");
    expect(first.textContent).toContain("8.0B parameters");
    expect(first.textContent).toContain("128K context");
    expect(first.textContent).toContain("≈ 11 tok/s");
    expect(big.dataset.verdict).toBe("red");
    expect(big.textContent).toContain("LM Studio");
    expect(big.textContent).toContain("/home/a/.lmstudio/models/x");
    // Another app's file that does not fit: no delete button; what would run it, and reveal.
    expect(big.querySelector("button.danger")).toBeNull();
    expect([...big.querySelectorAll(".actions button")].map((b) => b.textContent?.trim())).toEqual(["What would run it?", "Show in folder"]);
    expect(junk.textContent).toContain("bad magic");
  });

  it("asks before deleting, then deletes and says so", async () => {
    calls.list.mockResolvedValue([model({})]);
    const store = new ModelsStore();
    render(ModelsView, { store });
    await waitFor(() => expect(screen.getByRole("button", { name: "Delete" })).toBeTruthy());
    await fireEvent.click(screen.getByRole("button", { name: "Delete" }));
    expect(calls.del).not.toHaveBeenCalled();
    calls.del.mockResolvedValue("deleted");
    calls.list.mockResolvedValue([]);
    await fireEvent.click(screen.getByRole("button", { name: "Delete 4.6 GB" }));
    await waitFor(() => expect(screen.getByRole("status").textContent).toBe("Deleted M-Q4_K_M.gguf."));
    expect(calls.del).toHaveBeenCalledWith(1);
    await waitFor(() => expect(screen.getByText("No models yet.")).toBeTruthy());
  });

  it("imports through the picker and shows a refusal plainly", async () => {
    calls.list.mockResolvedValue([]);
    const store = new ModelsStore();
    render(ModelsView, { store });
    calls.pick.mockRejectedValue({ code: "INVALID_INPUT", message: "notes.gguf is not a GGUF model: bad magic", details: null });
    await fireEvent.click(screen.getByRole("button", { name: "Import file…" }));
    await waitFor(() => expect(screen.getByRole("alert").textContent).toBe("notes.gguf is not a GGUF model: bad magic"));
    expect(calls.pick).toHaveBeenCalledWith(false);
    calls.pick.mockResolvedValue(4);
    await fireEvent.click(screen.getByRole("button", { name: "Import folder…" }));
    await waitFor(() => expect(screen.getByRole("status").textContent).toBe("Imported 4 models."));
    expect(calls.pick).toHaveBeenLastCalledWith(true);
  });
});
