import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";

const overview = vi.hoisted(() => ({
  path: "/h/mcp.json",
  fileError: null,
  servers: [
    {
      name: "files",
      shown: "npx -y @modelcontextprotocol/server-filesystem /h/Notes",
      state: "ready",
      reason: null,
      tools: [
        { name: "read_text_file", description: "Read", readOnly: true, destructive: false },
        { name: "write_file", description: "Write", readOnly: false, destructive: true },
      ],
    },
  ],
  readOnlyWithoutAsking: false,
  alwaysAllowed: [],
  importable: [],
}));
vi.mock("$lib/api", async () => {
  const real = await vi.importActual<typeof import("$lib/api/index")>("$lib/api/index");
  return { ...real, api: { mcpOverview: () => Promise.resolve(overview) } };
});
vi.mock("$lib/api/bindings", async (original) => ({ ...(await original<object>()), commands: {} }));

import ChatSettings from "./ChatSettings.svelte";
import type { ConversationSettings } from "$lib/api";

afterEach(cleanup);

const settings = {
  systemPrompt: "",
  sampling: { temperature: 0.7, topP: 0.9, topK: 40, minP: 0.05, repeatPenalty: 1.1, maxTokens: null, seed: null, stop: [] },
  contextOverflow: "dropOldest",
} as unknown as ConversationSettings;

describe("a conversation's tools", () => {
  it("ticks a server, leaves one of its tools out, and holds the first answer to another", async () => {
    const onsave = vi.fn();
    render(ChatSettings, { settings, onsave, onclose: () => {} });
    const server = await screen.findByTestId("tool-server");
    await fireEvent.click(server);
    await waitFor(() => expect(screen.getByText("2 of 2 tools offered")).toBeTruthy());
    await fireEvent.click(screen.getByLabelText(/write_file/));
    expect(screen.getByText("1 of 2 tools offered")).toBeTruthy();
    const force = screen.getByTestId("tool-force") as HTMLSelectElement;
    expect([...force.options].map((o) => o.textContent)).toEqual(["The model decides", "A tool call, always", "A call to read_text_file"]);
    await fireEvent.change(force, { target: { value: "read_text_file" } });
    await fireEvent.click(screen.getByRole("button", { name: "Save" }));
    const saved = onsave.mock.calls[0][0] as ConversationSettings;
    expect(saved.tools).toEqual({ servers: ["files"], off: [["files", "write_file"]], force: "read_text_file" });
  });
});
