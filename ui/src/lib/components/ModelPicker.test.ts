import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import type { FitPlan, HardwareProfile, LoadedModel, LocalModel } from "$lib/api";

const calls = vi.hoisted(() => ({ load: vi.fn(), loaded: vi.fn(), setRunOn: vi.fn(), models: vi.fn() }));
vi.mock("$lib/api", async () => {
  const real = await vi.importActual<typeof import("$lib/api/index")>("$lib/api/index");
  return { ...real, api: { engineLoad: calls.load, engineLoaded: calls.loaded, modelSetRunOn: calls.setRunOn, modelsList: calls.models } };
});
vi.mock("$lib/api/bindings", async (original) => ({ ...(await original<object>()), commands: {} }));

import ModelPicker from "./ModelPicker.svelte";
import { ChatStore } from "$lib/stores/chat.svelte";
import { ModelsStore } from "$lib/stores/models.svelte";
import { HardwareStore } from "$lib/stores/hardware.svelte";

const red = {
  verdict: "red", label: "Too large · needs 41.2 GB, has 14.0 GB", reason: "Its weights need more.", mode: "none", gpuLayers: 0, totalLayers: 81,
  context: 4096, requestedContext: 8192, cacheK: "f16", cacheV: "f16", flashAttention: true, devices: [], totalBytes: 41e9, tokensPerSecond: null,
} as FitPlan;
const big = { id: 1, path: "/m/70b.gguf", fileName: "70b.gguf", plan: red, run: null, problem: null } as unknown as LocalModel;
const warning = "70b.gguf will not fit: Its weights need more. Loaded anyway, llama.cpp tries to allocate 38.4 GB: when RAM runs out the load fails…";

function setup() {
  const models = new ModelsStore();
  models.items = [big];
  const hardware = new HardwareStore();
  hardware.profile = { gpus: [{ name: "RTX 4090", engineBackend: "Vulkan", engineDevice: "Vulkan0" }] } as unknown as HardwareProfile;
  const chat = new ChatStore();
  render(ModelPicker, { chat, models, hardware });
  return { chat, models };
}

afterEach(() => {
  cleanup();
  vi.clearAllMocks();
});

describe("ModelPicker", () => {
  it("a red model loads only after its warning is confirmed", async () => {
    setup();
    calls.loaded.mockResolvedValue(null);
    calls.load.mockRejectedValueOnce({ code: "WOULD_NOT_FIT", message: warning, details: null });
    const load = (await screen.findByTestId("load-model")) as HTMLButtonElement;
    expect(load.disabled).toBe(false);
    await fireEvent.click(load);
    const dialog = await screen.findByTestId("overflow-warning");
    expect(dialog.textContent).toContain("Loaded anyway, llama.cpp tries to allocate 38.4 GB");
    expect(calls.load).toHaveBeenCalledWith("/m/70b.gguf", false, expect.any(Function));

    calls.load.mockResolvedValueOnce({ path: "/m/70b.gguf", fileName: "70b.gguf", info: { nCtx: 4096, weightsBytes: 1, kvCacheBytes: 1, computeBytes: 1 } } as unknown as LoadedModel);
    await fireEvent.click(screen.getByTestId("load-anyway"));
    expect(calls.load).toHaveBeenLastCalledWith("/m/70b.gguf", true, expect.any(Function));
    await waitFor(() => expect(screen.getByTestId("model-loaded")).toBeTruthy());
    expect(screen.queryByTestId("overflow-warning")).toBeNull();
  });

  it("cancel closes the warning and loads nothing", async () => {
    setup();
    calls.loaded.mockResolvedValue(null);
    calls.load.mockRejectedValueOnce({ code: "WOULD_NOT_FIT", message: warning, details: null });
    await fireEvent.click(await screen.findByTestId("load-model"));
    await fireEvent.click(await screen.findByRole("button", { name: "Cancel" }));
    expect(screen.queryByTestId("overflow-warning")).toBeNull();
    expect(calls.load).toHaveBeenCalledTimes(1);
  });

  it("saves a model's own choice of where it runs and lists the models again", async () => {
    setup();
    calls.setRunOn.mockResolvedValue(null);
    calls.models.mockResolvedValue([{ ...big, run: { runOn: { kind: "cpu" }, gpuLayers: null } }]);
    await fireEvent.click(await screen.findByTestId("model-run-on-toggle"));
    await fireEvent.change(screen.getByTestId("model-run-on-device"), { target: { value: "cpu" } });
    await fireEvent.click(screen.getByTestId("model-run-on-save"));
    await waitFor(() => expect(calls.setRunOn).toHaveBeenCalledWith("/m/70b.gguf", { runOn: { kind: "cpu" }, gpuLayers: null }));
    await waitFor(() => expect(screen.getByTestId("model-run-on-toggle").textContent).toContain("Runs on its own setting"));
  });
});
