import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import type { ServerStatus } from "$lib/api";

const calls = vi.hoisted(() => ({ status: vi.fn(), log: vi.fn(), start: vi.fn(), stop: vi.fn() }));
vi.mock("$lib/api", async () => {
  const real = await vi.importActual<typeof import("$lib/api/index")>("$lib/api/index");
  return { ...real, api: { serverStatus: calls.status, serverLog: calls.log, serverStart: calls.start, serverStop: calls.stop } };
});
vi.mock("$lib/api/bindings", async (original) => ({ ...(await original<object>()), commands: {} }));

import ServerView from "./ServerView.svelte";
import { ServerStore } from "$lib/stores/server.svelte";

const digest = "sha256:" + "ab".repeat(32);
const status = (apiKey: string | null): ServerStatus => ({
  baseUrl: null, loadedModel: null, models: 1,
  settings: { host: "127.0.0.1", port: 1234, apiKey, allowedOrigins: [], autoLoad: true, idleMinutes: 10 },
});

afterEach(() => {
  cleanup();
  vi.clearAllMocks();
});

describe("ServerView", () => {
  it("a saved key (kept as its digest) shows as set, never as the digest; Remove clears it", async () => {
    calls.status.mockResolvedValue(status(digest));
    calls.log.mockResolvedValue([]);
    render(ServerView, { store: new ServerStore() });
    const set = await screen.findByTestId("api-key-set");
    expect(set.textContent).toContain("A key is set");
    expect(document.body.innerHTML).not.toContain(digest);
    expect(screen.queryByTestId("api-key")).toBeNull();
    await fireEvent.click(screen.getByRole("button", { name: "Remove" }));
    await waitFor(() => expect((screen.getByTestId("api-key") as HTMLInputElement).value).toBe(""));
  });

  it("shows a chat, a tool call and JSON output as curl examples against its address", async () => {
    calls.status.mockResolvedValue({ ...status(null), baseUrl: "http://127.0.0.1:1234/v1", loadedModel: "SmolLM2" });
    calls.log.mockResolvedValue([]);
    render(ServerView, { store: new ServerStore() });
    const example = await screen.findByTestId("server-example");
    expect(example.textContent).toContain("curl http://127.0.0.1:1234/v1/chat/completions");
    expect(example.textContent).toContain('"content": "Hello!"');
    await fireEvent.click(screen.getByRole("button", { name: "Tool call" }));
    const body = (text: string) => JSON.parse(text.slice(text.indexOf("-d '") + 4, text.lastIndexOf("'")));
    const tools = body(screen.getByTestId("server-example").textContent ?? "");
    expect(tools.tools[0].function.name).toBe("get_weather");
    expect(tools.tool_choice).toBe("required");
    expect(tools.model).toBe("SmolLM2");
    await fireEvent.click(screen.getByRole("button", { name: "JSON output" }));
    expect(body(screen.getByTestId("server-example").textContent ?? "").response_format.type).toBe("json_schema");
    expect(screen.getByRole("button", { name: "JSON output" }).getAttribute("aria-pressed")).toBe("true");
  });

  it("Replace makes a new key and shows it once, to copy", async () => {
    calls.status.mockResolvedValue(status(digest));
    calls.log.mockResolvedValue([]);
    render(ServerView, { store: new ServerStore() });
    await fireEvent.click(await screen.findByRole("button", { name: "Replace" }));
    await waitFor(() => expect((screen.getByTestId("api-key") as HTMLInputElement).value).toMatch(/^hearth-[0-9a-f]{48}$/));
  });
});
