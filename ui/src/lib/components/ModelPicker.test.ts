import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import type { FitPlan, HardwareProfile, LoadedModel, LocalModel } from "$lib/api";

const calls = vi.hoisted(() => ({ load: vi.fn(), loaded: vi.fn(), setRunOn: vi.fn(), models: vi.fn(), setTemplate: vi.fn(), templates: vi.fn(), connections: vi.fn(() => Promise.resolve([] as unknown[])), remoteModels: vi.fn(() => Promise.resolve([] as unknown[])), estimate: vi.fn(() => Promise.resolve(null as unknown)), useRemote: vi.fn(), save: vi.fn(), remove: vi.fn() }));
vi.mock("$lib/api", async () => {
  const real = await vi.importActual<typeof import("$lib/api/index")>("$lib/api/index");
  return {
    ...real,
    api: {
      engineLoad: calls.load,
      engineLoaded: calls.loaded,
      modelSetRunOn: calls.setRunOn,
      modelsList: calls.models,
      modelSetTemplate: calls.setTemplate,
      templateChoices: calls.templates,
      connectionsList: calls.connections, remoteModels: calls.remoteModels, chatRemote: () => Promise.resolve(null), modelLoadEstimate: calls.estimate, chatUseRemote: calls.useRemote, connectionSave: calls.save, connectionRemove: calls.remove,
    },
  };
});
vi.mock("$lib/api/bindings", async (original) => ({ ...(await original<object>()), commands: {} }));

import ModelPicker from "./ModelPicker.svelte";
import { ChatStore } from "$lib/stores/chat.svelte";
import { ModelsStore } from "$lib/stores/models.svelte";
import { HardwareStore } from "$lib/stores/hardware.svelte";
import { ConnectionsStore } from "$lib/stores/connections.svelte";

const red = {
  verdict: "red", label: "Too large · needs 41.2 GB, has 14.0 GB", reason: "Its weights need more.", mode: "none", gpuLayers: 0, totalLayers: 81,
  context: 4096, requestedContext: 8192, slots: 1, cacheK: "f16", cacheV: "f16", flashAttention: true, devices: [], totalBytes: 41e9, tokensPerSecond: null,
} as FitPlan;
const big = { id: 1, path: "/m/70b.gguf", fileName: "70b.gguf", plan: red, run: null, chatTemplate: null, problem: null } as unknown as LocalModel;
const ownTemplate = { name: "file", label: "The model's own", source: "file", why: "the file's own (tokenizer.chat_template)" };
const warning = "70b.gguf will not fit: Its weights need more. Loaded anyway, llama.cpp tries to allocate 38.4 GB: when RAM runs out the load fails…";

function setup() {
  calls.templates.mockResolvedValue([{ name: "chatml", label: "ChatML" }, { name: "gemma", label: "Gemma" }]);
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
  it("says how long a load will take, and offers a connection's models marked remote", async () => {
    const box = { id: "c1", name: "GPU box", baseUrl: "http://127.0.0.1:8081", kind: "openai", keyPlace: "keychain", keyHint: "sk-…e3f1" };
    calls.connections.mockResolvedValue([box]);
    calls.remoteModels.mockResolvedValue([{ connection: box, models: ["qwen2.5-72b"], error: null }]);
    calls.estimate.mockResolvedValue({ seconds: 2.44, bytes: 41e9, cachedFraction: 0.25, diskBytesPerSecond: 1.7e10, cacheBytesPerSecond: 1e10, uncached: true, overheadSeconds: 0.5 });
    calls.templates.mockResolvedValue([]);
    const models = new ModelsStore();
    models.items = [big];
    const chat = new ChatStore();
    render(ModelPicker, { chat, models, hardware: new HardwareStore(), connections: new ConnectionsStore() });

    const estimate = await screen.findByTestId("load-estimate");
    expect(estimate.textContent).toBe("loads in about 2.4 s");
    expect(estimate.title).toContain("25 % of it is in memory already");
    expect(calls.estimate).toHaveBeenCalledWith("/m/70b.gguf");

    const option = (await screen.findByRole("option", { name: "qwen2.5-72b" })) as HTMLOptionElement;
    expect(option.parentElement?.getAttribute("label")).toBe("On GPU box (remote)");
    await fireEvent.change(screen.getByTestId("model-select"), { target: { value: option.value } });
    expect(screen.queryByTestId("load-model")).toBeNull();
    const remote = { connectionId: "c1", connectionName: "GPU box", baseUrl: "http://127.0.0.1:8081", model: "qwen2.5-72b" };
    calls.useRemote.mockResolvedValue(remote);
    await fireEvent.click(screen.getByTestId("use-remote"));
    expect(calls.useRemote).toHaveBeenCalledWith(remote);
    const loaded = await screen.findByTestId("remote-loaded");
    expect(loaded.textContent).toContain("qwen2.5-72b");
    expect(loaded.textContent).toContain("on GPU box · http://127.0.0.1:8081");
    expect(chat.ready).toBe(true);
  });


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

    calls.load.mockResolvedValueOnce({
      path: "/m/70b.gguf", fileName: "70b.gguf", plan: red,
      info: { nCtx: 4096, nGpuLayers: 0, weightsBytes: 1, kvCacheBytes: 1, computeBytes: 1, devices: [], template: ownTemplate },
    } as unknown as LoadedModel);
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
    await waitFor(() => expect(screen.getByTestId("model-run-on-toggle").textContent).toContain("Its own settings"));
  });

  it("gives a model a chat template of its own, and back to the file's", async () => {
    setup();
    calls.setTemplate.mockResolvedValue(null);
    calls.models.mockResolvedValue([{ ...big, chatTemplate: "gemma" }]);
    await fireEvent.click(await screen.findByTestId("model-run-on-toggle"));
    const select = (await screen.findByTestId("model-template")) as HTMLSelectElement;
    await waitFor(() => expect([...select.options].map((o) => o.textContent)).toEqual(["The file's own (its family's if it has none)", "ChatML", "Gemma"]));
    await fireEvent.change(select, { target: { value: "gemma" } });
    await waitFor(() => expect(calls.setTemplate).toHaveBeenCalledWith("/m/70b.gguf", "gemma"));
    await waitFor(() => expect(screen.getByTestId("model-run-on-toggle").textContent).toContain("Its own settings"));
    calls.models.mockResolvedValue([{ ...big, chatTemplate: null }]);
    await fireEvent.change(screen.getByTestId("model-template"), { target: { value: "" } });
    await waitFor(() => expect(calls.setTemplate).toHaveBeenLastCalledWith("/m/70b.gguf", null));
  });

  it("says which template a loaded model renders with, and why", async () => {
    setup();
    calls.loaded.mockResolvedValue(null);
    calls.load.mockResolvedValueOnce({
      path: "/m/70b.gguf", fileName: "70b.gguf", plan: red,
      info: {
        nCtx: 4096, nGpuLayers: 0, weightsBytes: 1, kvCacheBytes: 1, computeBytes: 1, devices: [],
        template: { name: "gemma", label: "Gemma", source: "family", why: "the file has no chat template; its vocabulary has Gemma's <start_of_turn>" },
      },
    } as unknown as LoadedModel);
    await fireEvent.click(await screen.findByTestId("load-model"));
    const used = await screen.findByTestId("loaded-template");
    expect(used.textContent).toContain("Gemma template (the file has none)");
    expect(used.getAttribute("title")).toContain("<start_of_turn>");
  });

  it("shows the plan's memory per device beside llama.cpp's own buffers", async () => {
    const models = new ModelsStore();
    const chat = new ChatStore();
    const MiB = 1048576;
    chat.loaded = {
      path: "/m/smol.gguf", fileName: "smol.gguf",
      info: { nCtx: 8192, nGpuLayers: 20, weightsBytes: 1, kvCacheBytes: 1, computeBytes: 1, template: ownTemplate, devices: [
        { name: "Vulkan0", weightsBytes: 68.8 * MiB, kvCacheBytes: 114 * MiB, computeBytes: 100.5 * MiB },
        { name: "CPU_Mapped", weightsBytes: 23.2 * MiB, kvCacheBytes: 0, computeBytes: 0 },
      ] },
      plan: { totalLayers: 31, devices: [
        { name: "llvmpipe", engineDevice: "Vulkan0", isGpu: true, memory: { weights: 68.9 * MiB, kvCache: 114 * MiB, compute: 109.6 * MiB, overhead: 0, repacked: 0 } },
        { name: "CPU", engineDevice: null, isGpu: false, memory: { weights: 23.3 * MiB, kvCache: 66 * MiB, compute: 20 * MiB, overhead: 0, repacked: 0 } },
      ] },
    } as unknown as LoadedModel;
    render(ModelPicker, { chat, models, hardware: new HardwareStore() });
    expect((await screen.findByTestId("model-loaded")).textContent).toContain("20/31 layers on GPU");
    await fireEvent.click(screen.getByTestId("memory-toggle"));
    const plan = screen.getAllByTestId("memory-plan").map((r) => r.textContent);
    const real = screen.getAllByTestId("memory-llama").map((r) => r.textContent);
    expect(plan[0]).toBe("planVulkan068.9 MiB114.0 MiB109.6 MiB");
    expect(real[0]).toBe("llama.cppVulkan068.8 MiB114.0 MiB100.5 MiB");
    expect(real[1]).toContain("CPU_Mapped");
  });
});
