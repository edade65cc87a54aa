import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import type { Settings } from "$lib/api";

const calls = vi.hoisted(() => ({ get: vi.fn(), update: vi.fn() }));
vi.mock("$lib/api", async () => {
  const real = await vi.importActual<typeof import("$lib/api/index")>("$lib/api/index");
  return { ...real, api: { settingsGet: calls.get, settingsUpdate: calls.update } };
});
// The generated values (ERROR_CODES) stay; only the commands are replaced.
vi.mock("$lib/api/bindings", async (original) => ({ ...(await original<object>()), commands: {} }));

import SettingsView from "./SettingsView.svelte";
import { SettingsStore } from "$lib/stores/settings.svelte";

const base: Settings = {
  modelsDir: "/home/a/.local/share/hearth/models", modelsDirIsDefault: true, hubEndpoint: "https://huggingface.co",
  hubEndpointFromEnv: false, token: null,
};

afterEach(() => {
  cleanup();
  vi.clearAllMocks();
});

describe("SettingsView", () => {
  it("saves a token, clears the field and shows only the hint", async () => {
    calls.get.mockResolvedValue(base);
    render(SettingsView, { store: new SettingsStore() });
    const input = (await screen.findByTestId("hf-token")) as HTMLInputElement;
    expect(input.type).toBe("password");
    calls.update.mockResolvedValue({ ...base, token: { hint: "hf_…WXYZ", place: "keychain" } });
    await fireEvent.input(input, { target: { value: "hf_abcdefghWXYZ" } });
    await fireEvent.click(screen.getByRole("button", { name: "Save token" }));
    await waitFor(() => expect(screen.getByTestId("token-status").textContent).toContain("hf_…WXYZ, in the system keychain"));
    expect(calls.update).toHaveBeenCalledWith({ modelsDir: null, hubEndpoint: null, token: "hf_abcdefghWXYZ" });
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
});
