import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import type { Settings } from "$lib/api";

const overview = {
  path: "/home/a/.local/share/hearth/mcp.json",
  fileError: null,
  servers: [
    { name: "files", shown: "npx -y @modelcontextprotocol/server-filesystem /home/a/Notes", state: "ready", reason: null, tools: [{ name: "read_text_file", description: "Read a file", readOnly: true, destructive: false }] },
    { name: "search", shown: "BRAVE_API_KEY=•••• brave-search", state: "failed", reason: "The MCP server `search` could not start: `brave-search` was not found on the PATH searched (/usr/bin:/bin).", tools: [] },
  ],
  readOnlyWithoutAsking: false,
  alwaysAllowed: [],
  importable: [],
};
const calls = vi.hoisted(() => ({ mcpOverview: vi.fn(), mcpText: vi.fn(), mcpSave: vi.fn(), get: vi.fn(), update: vi.fn(), connections: vi.fn(() => Promise.resolve([] as unknown[])), remoteModels: vi.fn(() => Promise.resolve([] as unknown[])), estimate: vi.fn(() => Promise.resolve(null as unknown)), useRemote: vi.fn(), save: vi.fn(), remove: vi.fn() }));
vi.mock("$lib/api", async () => {
  const real = await vi.importActual<typeof import("$lib/api/index")>("$lib/api/index");
  return { ...real, api: { settingsGet: calls.get, settingsUpdate: calls.update, connectionsList: calls.connections, remoteModels: calls.remoteModels, chatRemote: () => Promise.resolve(null), modelLoadEstimate: calls.estimate, chatUseRemote: calls.useRemote, connectionSave: calls.save, connectionRemove: calls.remove, mcpOverview: calls.mcpOverview, mcpConfigText: calls.mcpText, mcpSaveConfig: calls.mcpSave } };
});
// The generated values (ERROR_CODES) stay; only the commands are replaced.
vi.mock("$lib/api/bindings", async (original) => ({ ...(await original<object>()), commands: {} }));

import SettingsView from "./SettingsView.svelte";
import { SettingsStore } from "$lib/stores/settings.svelte";
import { ConnectionsStore } from "$lib/stores/connections.svelte";
import { HardwareStore } from "$lib/stores/hardware.svelte";
import type { HardwareProfile } from "$lib/api";

/** A machine with one GPU the engine drives and one it cannot. */
function twoGpus(): HardwareStore {
  const h = new HardwareStore();
  h.profile = {
    gpus: [
      { name: "NVIDIA GeForce RTX 4090", engineBackend: "Vulkan", engineDevice: "Vulkan0" },
      { name: "Intel UHD 770", engineBackend: null, engineDevice: null },
    ],
  } as unknown as HardwareProfile;
  return h;
}

const base: Settings = {
  modelsDir: "/home/a/.local/share/hearth/models", modelsDirIsDefault: true, hubEndpoint: "https://huggingface.co", run: { runOn: { kind: "auto" }, gpuLayers: null },
  hubEndpointFromEnv: false, token: null, parallel: 0, maxModels: 2,
};

afterEach(() => {
  cleanup();
  vi.clearAllMocks();
});

calls.mcpOverview.mockImplementation(() => Promise.resolve(overview));

describe("SettingsView", () => {
  it("adds a connection: the key goes once, only its hint comes back, and what the endpoint said is shown", async () => {
    calls.get.mockResolvedValue(base);
    const saved = { id: "c1", name: "GPU box", baseUrl: "http://127.0.0.1:8081", kind: "openai", keyPlace: "keychain", keyHint: "sk-…e3f1", allowPlainHttp: false };
    render(SettingsView, { store: new SettingsStore(), connections: new ConnectionsStore() });
    const key = (await screen.findByTestId("connection-key")) as HTMLInputElement;
    expect(key.type).toBe("password");
    await fireEvent.input(screen.getByTestId("connection-name"), { target: { value: "GPU box" } });
    await fireEvent.input(screen.getByTestId("connection-url"), { target: { value: "http://127.0.0.1:8081/v1" } });
    await fireEvent.input(key, { target: { value: "sk-wrong-0000e3f1" } });
    calls.save.mockResolvedValue(saved);
    calls.connections.mockResolvedValue([saved]);
    const refused = { code: "REMOTE_REFUSED", message: "GPU box refused the key (HTTP 401). Check the key in Settings → Connections.", details: null };
    calls.remoteModels.mockResolvedValue([{ connection: saved, models: [], error: refused }]);
    await fireEvent.click(screen.getByTestId("connection-save"));
    await waitFor(() => expect(screen.getByTestId("connections-notice").textContent).toContain("Saved GPU box, but it did not answer: GPU box refused the key"));
    expect(calls.save).toHaveBeenCalledWith({ id: null, name: "GPU box", baseUrl: "http://127.0.0.1:8081/v1", kind: "openai", key: "sk-wrong-0000e3f1", allowPlainHttp: false });
    expect(screen.getByTestId("connection-status").textContent).toContain("refused the key (HTTP 401)");
    expect(screen.getByTestId("connection").textContent).toContain("sk-…e3f1, key in the system keychain");
    await waitFor(() => expect(key.value).toBe(""));
    expect(document.body.textContent).not.toContain("sk-wrong");

    // Changing it without typing a key keeps the saved one (key: null).
    await fireEvent.click(screen.getByRole("button", { name: "Edit" }));
    calls.remoteModels.mockResolvedValue([{ connection: saved, models: ["qwen2.5-72b"], error: null }]);
    await fireEvent.click(screen.getByTestId("connection-save"));
    await waitFor(() => expect(screen.getByTestId("connection-status").textContent).toContain("1 model: qwen2.5-72b"));
    expect(calls.save).toHaveBeenLastCalledWith({ id: "c1", name: "GPU box", baseUrl: "http://127.0.0.1:8081", kind: "openai", key: null, allowPlainHttp: false });
  });

  it("warns before a key would go over plain http to another machine", async () => {
    calls.get.mockResolvedValue(base);
    render(SettingsView, { store: new SettingsStore(), connections: new ConnectionsStore() });
    await fireEvent.input(await screen.findByTestId("connection-url"), { target: { value: "http://192.168.1.20:1234" } });
    await fireEvent.input(screen.getByTestId("connection-key"), { target: { value: "sk-abc" } });
    expect(screen.getByTestId("connection-unencrypted").textContent).toContain("unencrypted");
    await fireEvent.input(screen.getByTestId("connection-url"), { target: { value: "http://127.0.0.1:8081" } });
    expect(screen.queryByTestId("connection-unencrypted")).toBeNull();
    expect(screen.queryByTestId("connection-allow-http")).toBeNull();
  });

  it("sends plain http to a machine on the internet only with the person's confirmation", async () => {
    calls.get.mockResolvedValue(base);
    calls.save.mockRejectedValue({ code: "INVALID_INPUT", message: "http://gpu.example.com:8000 is plain http to a machine beyond this computer and its network", details: null });
    render(SettingsView, { store: new SettingsStore(), connections: new ConnectionsStore() });
    await fireEvent.input(await screen.findByTestId("connection-name"), { target: { value: "Rented" } });
    await fireEvent.input(screen.getByTestId("connection-url"), { target: { value: "http://gpu.example.com:8000" } });
    await fireEvent.click(screen.getByTestId("connection-save"));
    await waitFor(() => expect(screen.getByTestId("connections-error").textContent).toContain("plain http"));
    expect(calls.save).toHaveBeenLastCalledWith(expect.objectContaining({ allowPlainHttp: false }));
    await fireEvent.click(screen.getByTestId("connection-allow-http"));
    await fireEvent.click(screen.getByTestId("connection-save"));
    await waitFor(() => expect(calls.save).toHaveBeenLastCalledWith(expect.objectContaining({ baseUrl: "http://gpu.example.com:8000", allowPlainHttp: true })));
  });

  it("saves a token, clears the field and shows only the hint", async () => {
    calls.get.mockResolvedValue(base);
    render(SettingsView, { store: new SettingsStore() });
    const input = (await screen.findByTestId("hf-token")) as HTMLInputElement;
    expect(input.type).toBe("password");
    calls.update.mockResolvedValue({ ...base, token: { hint: "hf_…WXYZ", place: "keychain" } });
    await fireEvent.input(input, { target: { value: "hf_abcdefghWXYZ" } });
    await fireEvent.click(screen.getByRole("button", { name: "Save token" }));
    await waitFor(() => expect(screen.getByTestId("token-status").textContent).toContain("hf_…WXYZ, in the system keychain"));
    expect(calls.update).toHaveBeenCalledWith({ modelsDir: null, hubEndpoint: null, token: "hf_abcdefghWXYZ", run: null, parallel: null, maxModels: null });
    expect(input.value).toBe("");
    expect(document.body.textContent).not.toContain("abcdefgh");
  });

  it("shows a refused folder as a message and keeps what was typed", async () => {
    calls.get.mockResolvedValue(base);
    render(SettingsView, { store: new SettingsStore() });
    const input = (await screen.findByTestId("models-dir")) as HTMLInputElement;
    calls.update.mockRejectedValue({ code: "INVALID_INPUT", message: 'Choose a full path for the models folder, not "models".', details: null });
    await fireEvent.input(input, { target: { value: "models" } });
    await fireEvent.click(screen.getAllByRole("button", { name: "Save" })[0]);
    await waitFor(() => expect(screen.getByRole("alert").textContent).toContain("full path"));
    expect(input.value).toBe("models");
  });

  it("says when HF_ENDPOINT decides the Hub", async () => {
    calls.get.mockResolvedValue({ ...base, hubEndpoint: "http://127.0.0.1:8080", hubEndpointFromEnv: true });
    render(SettingsView, { store: new SettingsStore() });
    await waitFor(() => expect(document.body.textContent).toContain("by HF_ENDPOINT in the environment"));
    expect(screen.queryByTestId("hub-endpoint")).toBeNull();
  });

  it("offers the GPUs the engine can use and saves one GPU with a layer count", async () => {
    calls.get.mockResolvedValue(base);
    render(SettingsView, { store: new SettingsStore(), hardware: twoGpus() });
    const device = (await screen.findByTestId("run-on-device")) as HTMLSelectElement;
    const options = [...device.options].map((o) => o.textContent);
    expect(options).toEqual(["Auto: NVIDIA GeForce RTX 4090", "CPU only", "NVIDIA GeForce RTX 4090 (Vulkan0)"]);
    const save = screen.getByTestId("run-on-save") as HTMLButtonElement;
    expect(save.disabled).toBe(true);
    calls.update.mockResolvedValue({ ...base, run: { runOn: { kind: "gpu", device: "Vulkan0" }, gpuLayers: 20 } });
    await fireEvent.change(device, { target: { value: "gpu:Vulkan0" } });
    await fireEvent.input(screen.getByTestId("run-on-layers"), { target: { value: "20" } });
    await fireEvent.click(save);
    await waitFor(() =>
      expect(calls.update).toHaveBeenCalledWith({
        modelsDir: null, hubEndpoint: null, token: null, run: { runOn: { kind: "gpu", device: "Vulkan0" }, gpuLayers: 20 },
        parallel: null, maxModels: null,
      }),
    );
  });

  it("saves replies at once and models loaded at once", async () => {
    calls.get.mockResolvedValue(base);
    render(SettingsView, { store: new SettingsStore(), hardware: twoGpus() });
    const parallel = (await screen.findByTestId("parallel")) as HTMLSelectElement;
    expect(parallel.value).toBe("0");
    expect([...parallel.options].map((o) => o.textContent)).toEqual(["Auto", "1", "2", "4", "8", "16"]);
    calls.update.mockResolvedValue({ ...base, parallel: 8 });
    await fireEvent.change(parallel, { target: { value: "8" } });
    await waitFor(() =>
      expect(calls.update).toHaveBeenLastCalledWith({ modelsDir: null, hubEndpoint: null, token: null, run: null, parallel: 8, maxModels: null }),
    );
    calls.update.mockResolvedValue({ ...base, parallel: 8, maxModels: 1 });
    await fireEvent.change(screen.getByTestId("max-models"), { target: { value: "1" } });
    await waitFor(() =>
      expect(calls.update).toHaveBeenLastCalledWith({ modelsDir: null, hubEndpoint: null, token: null, run: null, parallel: null, maxModels: 1 }),
    );
  });

  it("CPU only leaves no GPU-layer count, and a negative count cannot be saved", async () => {
    calls.get.mockResolvedValue(base);
    render(SettingsView, { store: new SettingsStore(), hardware: twoGpus() });
    const device = (await screen.findByTestId("run-on-device")) as HTMLSelectElement;
    const layers = screen.getByTestId("run-on-layers") as HTMLInputElement;
    await fireEvent.input(layers, { target: { value: "-3" } });
    expect((screen.getByTestId("run-on-save") as HTMLButtonElement).disabled).toBe(true);
    calls.update.mockResolvedValue({ ...base, run: { runOn: { kind: "cpu" }, gpuLayers: null } });
    await fireEvent.change(device, { target: { value: "cpu" } });
    expect(layers.disabled).toBe(true);
    await fireEvent.click(screen.getByTestId("run-on-save"));
    await waitFor(() => expect(calls.update).toHaveBeenCalledWith(expect.objectContaining({ run: { runOn: { kind: "cpu" }, gpuLayers: null } })));
  });
});

describe("Settings → Tools (MCP)", () => {
  it("shows each server's state, says why one failed, and shows the exact command before adding one", async () => {
    calls.get.mockResolvedValue(base);
    calls.mcpOverview.mockResolvedValue(overview);
    render(SettingsView, { store: new SettingsStore() });
    const servers = await screen.findAllByTestId("mcp-server");
    expect(servers.map((s) => s.getAttribute("data-state"))).toEqual(["ready", "failed"]);
    expect(servers[0].textContent).toContain("1 tools");
    expect(servers[1].textContent).toContain("was not found on the PATH searched");
    expect(servers[1].textContent).toContain("BRAVE_API_KEY=••••");

    await fireEvent.input(screen.getByTestId("mcp-name"), { target: { value: "notes" } });
    await fireEvent.input(screen.getByTestId("mcp-command"), { target: { value: "npx" } });
    await fireEvent.input(screen.getByTestId("mcp-args"), { target: { value: "-y\n@modelcontextprotocol/server-filesystem\n/home/a/My Notes" } });
    await fireEvent.click(screen.getByTestId("mcp-review"));
    const consent = await screen.findByTestId("mcp-consent");
    expect(consent.textContent).toContain("npx -y @modelcontextprotocol/server-filesystem '/home/a/My Notes'");
    expect(calls.mcpSave).not.toHaveBeenCalled();

    calls.mcpText.mockResolvedValue('{"mcpServers": {"files": {"command": "npx"}}}');
    calls.mcpSave.mockResolvedValue(overview);
    await fireEvent.click(screen.getByTestId("mcp-consent-add"));
    await waitFor(() => expect(calls.mcpSave).toHaveBeenCalled());
    const saved = JSON.parse(calls.mcpSave.mock.calls[0][0] as string);
    expect(Object.keys(saved.mcpServers)).toEqual(["files", "notes"]);
    expect(saved.mcpServers.notes.args).toEqual(["-y", "@modelcontextprotocol/server-filesystem", "/home/a/My Notes"]);
  });

  it("refuses to add a server under a name already taken, rather than replace it", async () => {
    calls.get.mockResolvedValue(base);
    calls.mcpOverview.mockResolvedValue(overview);
    render(SettingsView, { store: new SettingsStore() });
    await fireEvent.input(await screen.findByTestId("mcp-name"), { target: { value: "files" } });
    await fireEvent.input(screen.getByTestId("mcp-command"), { target: { value: "node" } });
    await fireEvent.click(screen.getByTestId("mcp-review"));
    calls.mcpText.mockResolvedValue('{"mcpServers": {"files": {"command": "npx"}}}');
    await fireEvent.click(await screen.findByTestId("mcp-consent-add"));
    await waitFor(() => expect(screen.getByTestId("mcp-consent").textContent).toContain("already a server named files"));
    expect(calls.mcpSave).not.toHaveBeenCalled();
  });

  it("keeps a malformed mcp.json in the editor with the sentence that names its line", async () => {
    calls.get.mockResolvedValue(base);
    calls.mcpOverview.mockResolvedValue(overview);
    render(SettingsView, { store: new SettingsStore() });
    calls.mcpText.mockResolvedValue("{}");
    await fireEvent.click(await screen.findByTestId("mcp-json-edit"));
    const editor = (await screen.findByTestId("mcp-json")) as HTMLTextAreaElement;
    calls.mcpSave.mockRejectedValue({ code: "INVALID_INPUT", message: "mcp.json is not valid JSON at line 3, column 27: trailing comma. Nothing was changed; fix the file or remove it.", details: null });
    await fireEvent.input(editor, { target: { value: '{\n "mcpServers": {\n  "a": {"command": "x",}\n }\n}' } });
    await fireEvent.click(screen.getByTestId("mcp-json-save"));
    await waitFor(() => expect(screen.getByTestId("mcp-error").textContent).toContain("line 3"));
    expect((screen.getByTestId("mcp-json") as HTMLTextAreaElement).value).toContain('"x",}');
  });
});
