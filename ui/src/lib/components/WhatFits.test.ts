import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import type { FitGrid, WhatIf } from "$lib/api";

const calls = vi.hoisted(() => ({ whatFits: vi.fn(), catalog: vi.fn(), presets: vi.fn() }));
vi.mock("$lib/api", async () => {
  const real = await vi.importActual<typeof import("$lib/api/index")>("$lib/api/index");
  return { ...real, api: { whatFits: calls.whatFits, gpuCatalog: calls.catalog, whatIfPresets: calls.presets } };
});
// The generated values (ERROR_CODES) stay; only the commands are replaced.
vi.mock("$lib/api/bindings", async (original) => ({ ...(await original<object>()), commands: {} }));

import WhatFits from "./WhatFits.svelte";

function grid(machine: string, verdict: "green" | "red"): FitGrid {
  const cell = { verdict, label: verdict === "green" ? "Fits in RAM" : "Too large", reason: "why", totalBytes: 5e9, fileBytes: 4.6e9, tokensPerSecond: verdict === "green" ? { low: 8, high: 12, expected: 10 } : null };
  return { machine, sizes: ["8B"], sizeModels: ["Llama 3.1 8B"], quants: ["Q4_K_M"], cells: [[cell]] };
}

afterEach(cleanup);

describe("WhatFits", () => {
  it("offers the budget configurations as presets that imagine that machine", async () => {
    calls.catalog.mockResolvedValue([{ name: "RTX 3060", memoryGib: 12, unified: false }, { name: "RTX 4090", memoryGib: 24, unified: false }]);
    calls.presets.mockResolvedValue([
      { name: "Entry", about: "about $500: a used RTX 3060 12 GB", whatIf: { gpu: "RTX 3060", count: 1, ramGib: 32 } },
      { name: "Mid", about: "about $1,500–2,000: an RTX 4090 24 GB", whatIf: { gpu: "RTX 4090", count: 1, ramGib: 64 } },
    ]);
    calls.whatFits.mockImplementation(async (w: WhatIf | null) => (w ? grid(`${w.gpu} · ${w.ramGib} GB RAM`, "green") : grid("This machine", "red")));
    render(WhatFits);
    await waitFor(() => expect(screen.getAllByTestId("whatif-preset").map((b) => b.textContent)).toEqual(["Entry", "Mid"]));
    await fireEvent.click(screen.getAllByTestId("whatif-preset")[0]);
    await waitFor(() => expect(calls.whatFits).toHaveBeenLastCalledWith({ gpu: "RTX 3060", count: 1, ramGib: 32 }));
    await waitFor(() => expect(screen.getByTestId("fit-cell").dataset.verdict).toBe("green"));
    expect((screen.getByTestId("whatif-gpu") as HTMLSelectElement).value).toBe("RTX 3060");
  });

  it("shows this machine's grid, then another machine's when one is picked", async () => {
    calls.catalog.mockResolvedValue([{ name: "RTX 4090", memoryGib: 24, unified: false }]);
    calls.whatFits.mockImplementation(async (w: WhatIf | null) => (w ? grid("RTX 4090 · 64 GB RAM", "green") : grid("This machine", "red")));
    render(WhatFits);
    const cell = await screen.findByTestId("fit-cell");
    expect(cell.dataset.verdict).toBe("red");
    expect(cell.textContent).toContain("needs 5 GB");

    await waitFor(() => expect(screen.getAllByRole("option").length).toBe(3));
    await fireEvent.change(screen.getByTestId("whatif-gpu"), { target: { value: "RTX 4090" } });
    await waitFor(() => expect(screen.getByTestId("fit-cell").dataset.verdict).toBe("green"));
    expect(calls.whatFits).toHaveBeenLastCalledWith({ gpu: "RTX 4090", count: 1, ramGib: 64 });
    expect(screen.getByTestId("fit-cell").textContent).toContain("≈ 10 tok/s");
  });

  it("keeps the newest answer when an older, slower one arrives last", async () => {
    calls.catalog.mockResolvedValue([{ name: "RTX 4090", memoryGib: 24, unified: false }]);
    let releaseFirst: (g: FitGrid) => void = () => {};
    calls.whatFits
      .mockImplementationOnce(() => new Promise<FitGrid>((r) => (releaseFirst = r)))
      .mockImplementationOnce(async () => grid("RTX 4090", "green"));
    render(WhatFits);
    await waitFor(() => expect(screen.getAllByRole("option").length).toBe(3));
    await fireEvent.change(screen.getByTestId("whatif-gpu"), { target: { value: "RTX 4090" } });
    await waitFor(() => expect(screen.getByTestId("fit-cell").dataset.verdict).toBe("green"));
    releaseFirst(grid("This machine", "red"));
    await new Promise((r) => setTimeout(r, 20));
    expect(screen.getByTestId("fit-cell").dataset.verdict).toBe("green");
  });
});
