import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import type { ChatEvent, Conversation, GenerationStats, LoadedModel } from "$lib/api";

const calls = vi.hoisted(() => ({
  conversations: vi.fn(), create: vi.fn(), messages: vi.fn(), send: vi.fn(), stop: vi.fn(), loaded: vi.fn(), models: vi.fn(), regenerate: vi.fn(),
}));
vi.mock("$lib/api", async () => {
  const real = await vi.importActual<typeof import("$lib/api/index")>("$lib/api/index");
  return {
    ...real,
    api: {
      chatConversations: calls.conversations, chatCreate: calls.create, chatMessages: calls.messages, chatSend: calls.send,
      chatStop: calls.stop, engineLoaded: calls.loaded, modelsList: calls.models, chatRegenerate: calls.regenerate,
      templateChoices: () => Promise.resolve([]),
    },
  };
});
// The generated values (ERROR_CODES) stay; only the commands are replaced.
vi.mock("$lib/api/bindings", async (original) => ({ ...(await original<object>()), commands: {} }));

import ChatView from "./ChatView.svelte";
import { ChatStore } from "$lib/stores/chat.svelte";
import { ModelsStore } from "$lib/stores/models.svelte";

const conv: Conversation = {
  id: 7, title: "New chat", modelPath: null, updatedAt: 0, messageCount: 0,
  settings: { systemPrompt: "", contextOverflow: "dropOldest", sampling: { temperature: 0.8, topK: 40, topP: 0.95, minP: 0.05, repeatPenalty: 1, repeatLastN: 64, seed: null, maxTokens: null, stop: [] } },
};
const loaded = {
  path: "/m/smol.gguf", fileName: "smol.gguf", plan: { totalLayers: 31, devices: [] },
  info: { nCtx: 8192, nGpuLayers: 0, weightsBytes: 1, kvCacheBytes: 1, computeBytes: 1, devices: [], template: { name: "file", label: "The model's own", source: "file", why: "" } },
} as unknown as LoadedModel;
const stats: GenerationStats = {
  promptTokensTotal: 30, reusedPrefixTokens: 0, promptTokens: 30, promptMs: 80, generatedTokens: 3, generationMs: 30, timeToFirstTokenMs: 95, stopReason: "eos",
};

afterEach(() => {
  cleanup();
  vi.clearAllMocks();
});

describe("ChatView", () => {
  it("streams a reply token by token, renders it safely, and shows its figures", async () => {
    calls.conversations.mockResolvedValue([conv]);
    calls.loaded.mockResolvedValue(loaded);
    calls.models.mockResolvedValue([]);
    calls.create.mockResolvedValue(conv);
    let emit: (e: ChatEvent) => void = () => {};
    let finish: () => void = () => {};
    calls.send.mockImplementation((_id: number, _text: string, on: (e: ChatEvent) => void) => {
      emit = on;
      return new Promise<null>((ok) => (finish = () => ok(null)));
    });
    render(ChatView, { chat: new ChatStore(), models: new ModelsStore() });
    const box = await screen.findByTestId("composer");
    await waitFor(() => expect(screen.getByText("Say something")).toBeTruthy());
    await fireEvent.input(box, { target: { value: "Hi there" } });
    await fireEvent.keyDown(box, { key: "Enter" });
    await waitFor(() => expect(calls.send).toHaveBeenCalled());
    emit({ type: "started", userMessageId: 1, replyId: 2 });
    for (const t of ["Hello", " <img src=x onerror=alert(1)>", " **friend**"]) emit({ type: "text", text: t });
    await waitFor(() => expect(screen.getByTestId("reply").textContent?.trim()).toBe("Hello <img src=x onerror=alert(1)> friend"));
    expect(screen.getByTestId("reply").querySelector("img")).toBeNull();
    expect(screen.getByTestId("reply").querySelector("strong")?.textContent).toBe("friend");
    expect(screen.getByTestId("stop")).toBeTruthy();
    emit({ type: "done", stats });
    finish();
    await waitFor(() => expect(screen.getByTestId("reply-stats").textContent).toContain("100.0 tok/s · 0.10 s to first token · 3 tokens"));
    await waitFor(() => expect(screen.getByTestId("send")).toBeTruthy());
  });

  it("puts only the last messages of a long conversation on the page", async () => {
    const many = Array.from({ length: 2000 }, (_, i) => ({ id: i + 1, role: i % 2 ? "assistant" : "user", content: `message ${i}`, state: "done", stats: null, error: null }));
    calls.conversations.mockResolvedValue([{ ...conv, messageCount: 2000 }]);
    calls.loaded.mockResolvedValue(null);
    calls.models.mockResolvedValue([]);
    calls.messages.mockResolvedValue(many);
    const chat = new ChatStore();
    render(ChatView, { chat, models: new ModelsStore() });
    await waitFor(() => expect(screen.getAllByTestId("conversation")).toHaveLength(1));
    await fireEvent.click(screen.getAllByTestId("conversation")[0].querySelector("button.title")!);
    await waitFor(() => expect(screen.getAllByTestId("message").length).toBe(80));
    expect(screen.getAllByTestId("message").at(-1)?.textContent).toContain("message 1999");
    await fireEvent.click(screen.getByText(/Show earlier messages \(1920 more\)/));
    await waitFor(() => expect(screen.getAllByTestId("message").length).toBe(160));
  });
});
