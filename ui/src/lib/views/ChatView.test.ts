import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import type { ChatEvent, Conversation, GenerationStats, LoadedModel } from "$lib/api";

const calls = vi.hoisted(() => ({
  conversations: vi.fn(), create: vi.fn(), messages: vi.fn(), send: vi.fn(), stop: vi.fn(), loaded: vi.fn(), models: vi.fn(), regenerate: vi.fn(),
  watch: vi.fn(),
}));
vi.mock("$lib/api", async () => {
  const real = await vi.importActual<typeof import("$lib/api/index")>("$lib/api/index");
  return {
    ...real,
    api: {
      chatConversations: calls.conversations, chatCreate: calls.create, chatMessages: calls.messages, chatSend: calls.send,
      chatStop: calls.stop, engineLoaded: calls.loaded, modelsList: calls.models, chatRegenerate: calls.regenerate,
      templateChoices: () => Promise.resolve([]),
      connectionsList: () => Promise.resolve([]), remoteModels: () => Promise.resolve([]), chatRemote: () => Promise.resolve(null), modelLoadEstimate: () => Promise.resolve(null),
      // The runtime's feed: what the test's `loaded` says, once, as Rust sends it at once.
      engineWatch: async (on: (m: { loaded: LoadedModel | null; remote: null }) => void) => {
        calls.watch();
        on({ loaded: (await calls.loaded()) ?? null, remote: null });
        return null;
      },
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
  promptTokensTotal: 30, reusedPrefixTokens: 0, promptTokens: 30, promptMs: 80, generatedTokens: 3, generationMs: 30, timeToFirstTokenMs: 95, stopReason: "eos", tokensPerSecond: 100,
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
    calls.send.mockImplementation((_id: number, _text: string, _pictures: string[], on: (e: ChatEvent) => void) => {
      emit = on;
      return new Promise<null>((ok) => (finish = () => ok(null)));
    });
    render(ChatView, { chat: new ChatStore(), models: new ModelsStore() });
    const box = await screen.findByTestId("composer");
    await waitFor(() => expect(screen.getByText("Say something")).toBeTruthy());
    await fireEvent.input(box, { target: { value: "Hi there" } });
    await fireEvent.keyDown(box, { key: "Enter" });
    await waitFor(() => expect(calls.send).toHaveBeenCalled());
    emit({ type: "started", conversationId: 7, userMessageId: 1, replyId: 2 });
    for (const t of ["Hello", " <img src=x onerror=alert(1)>", " **friend**"]) emit({ type: "text", conversationId: 7, replyId: 2, text: t });
    await waitFor(() => expect(screen.getByTestId("reply").textContent?.trim()).toBe("Hello <img src=x onerror=alert(1)> friend"));
    expect(screen.getByTestId("reply").querySelector("img")).toBeNull();
    expect(screen.getByTestId("reply").querySelector("strong")?.textContent).toBe("friend");
    expect(screen.getByTestId("stop")).toBeTruthy();
    emit({ type: "done", conversationId: 7, replyId: 2, stats });
    finish();
    await waitFor(() => expect(screen.getByTestId("reply-stats").textContent).toContain("100.0 tok/s · 0.10 s to first token · 3 tokens"));
    await waitFor(() => expect(screen.getByTestId("send")).toBeTruthy());
  });

  it("asks the backend for nothing during a reply but the reply itself (IPC calls per reply: 1, was 7)", async () => {
    calls.conversations.mockResolvedValue([conv]);
    calls.loaded.mockResolvedValue(loaded);
    calls.models.mockResolvedValue([]);
    calls.messages.mockResolvedValue([]);
    const chat = new ChatStore();
    await chat.refresh();
    await chat.open(conv);
    const before = Object.values(calls).reduce((n, f) => n + f.mock.calls.length, 0);
    calls.send.mockImplementation(async (_id: number, _text: string, _pictures: string[], on: (e: ChatEvent) => void) => {
      on({ type: "started", conversationId: 7, userMessageId: 1, replyId: 2 });
      on({ type: "conversation", conversation: { ...conv, title: "Hi there", messageCount: 2, updatedAt: 5 } });
      on({ type: "text", conversationId: 7, replyId: 2, text: "Hello" });
      on({ type: "done", conversationId: 7, replyId: 2, stats });
      on({ type: "conversation", conversation: { ...conv, title: "Hi there", messageCount: 2, updatedAt: 6 } });
      return null;
    });
    await chat.send("Hi there");
    const during = Object.values(calls).reduce((n, f) => n + f.mock.calls.length, 0) - before;
    expect(during).toBe(1);
    expect(calls.send).toHaveBeenCalledTimes(1);
    // The list and the header follow the rows the reply carried.
    expect(chat.conversations.map((c) => [c.id, c.title, c.updatedAt])).toEqual([[7, "Hi there", 6]]);
    expect(chat.current?.title).toBe("Hi there");
    expect(chat.loaded?.fileName).toBe("smol.gguf");
    expect(calls.watch).toHaveBeenCalledTimes(1);
  });

  it("puts only the last messages of a long conversation on the page", async () => {
    const many = Array.from({ length: 2000 }, (_, i) => ({ id: i + 1, role: i % 2 ? "assistant" : "user", content: `message ${i}`, state: "done", stats: null, error: null, toolCalls: [] }));
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

  it("follows two conversations writing at once: switching keeps each reply streaming, Stop stops the one shown", async () => {
    const a = { ...conv, id: 7, title: "Sea" };
    const b = { ...conv, id: 8, title: "Stars" };
    calls.conversations.mockResolvedValue([a, b]);
    calls.loaded.mockResolvedValue(loaded);
    calls.models.mockResolvedValue([]);
    calls.messages.mockResolvedValue([]);
    const emits: Record<number, (e: ChatEvent) => void> = {};
    const finishes: Record<number, () => void> = {};
    calls.send.mockImplementation((id: number, _text: string, _pictures: string[], on: (e: ChatEvent) => void) => {
      emits[id] = on;
      return new Promise<null>((ok) => (finishes[id] = () => ok(null)));
    });
    calls.stop.mockResolvedValue(null);
    const chat = new ChatStore();
    render(ChatView, { chat, models: new ModelsStore() });
    await waitFor(() => expect(screen.getAllByTestId("conversation")).toHaveLength(2));
    const open = async (i: number) => fireEvent.click(screen.getAllByTestId("conversation")[i].querySelector("button.title")!);
    const say = async (text: string) => {
      const box = screen.getByTestId("composer");
      await fireEvent.input(box, { target: { value: text } });
      await fireEvent.keyDown(box, { key: "Enter" });
    };
    await open(0);
    await say("Tell me about the sea");
    await waitFor(() => expect(emits[7]).toBeTruthy());
    emits[7]({ type: "started", conversationId: 7, userMessageId: 1, replyId: 2 });
    emits[7]({ type: "text", conversationId: 7, replyId: 2, text: "Waves" });
    // Away to the other conversation while the first still writes; it starts its own reply.
    await open(1);
    await waitFor(() => expect(screen.queryByTestId("reply")).toBeNull());
    await say("Tell me about the stars");
    await waitFor(() => expect(emits[8]).toBeTruthy());
    emits[8]({ type: "started", conversationId: 8, userMessageId: 3, replyId: 4 });
    emits[8]({ type: "text", conversationId: 8, replyId: 4, text: "Light" });
    emits[7]({ type: "text", conversationId: 7, replyId: 2, text: " fold" });
    await waitFor(() => expect(screen.getByTestId("reply").textContent?.trim()).toBe("Light"));
    expect(screen.getAllByTestId("conversation-writing")).toHaveLength(2);
    // Back to the first: everything it wrote meanwhile is there, and Stop stops it alone.
    await open(0);
    await waitFor(() => expect(screen.getByTestId("reply").textContent?.trim()).toBe("Waves fold"));
    await fireEvent.click(screen.getByTestId("stop"));
    expect(calls.stop).toHaveBeenCalledWith(7);
    emits[7]({ type: "done", conversationId: 7, replyId: 2, stats: { ...stats, stopReason: "cancelled" } });
    finishes[7]();
    await waitFor(() => expect(screen.getAllByTestId("conversation-writing")).toHaveLength(1));
    emits[8]({ type: "text", conversationId: 8, replyId: 4, text: " years" });
    emits[8]({ type: "done", conversationId: 8, replyId: 4, stats });
    finishes[8]();
    await waitFor(() => expect(screen.queryAllByTestId("conversation-writing")).toHaveLength(0));
    await open(1);
    await waitFor(() => expect(calls.messages).toHaveBeenCalledWith(8));
  });

  it("attaches pictures, says a text-only model cannot see them, and sends them to one that can", async () => {
    calls.conversations.mockResolvedValue([conv]);
    calls.models.mockResolvedValue([{ id: 3, path: "/m/gemma.gguf", fileName: "gemma-3-4b.gguf", projector: "/m/mmproj-F16.gguf", problem: null }]);
    calls.create.mockResolvedValue(conv);
    calls.send.mockResolvedValue(null);
    calls.loaded.mockResolvedValue(loaded);
    render(ChatView, { chat: new ChatStore(), models: new ModelsStore() });
    const input = (await screen.findByTestId("attach-input")) as HTMLInputElement;
    const photo = new File([new Uint8Array([137, 80, 78, 71])], "photo.png", { type: "image/png" });
    await fireEvent.change(input, { target: { files: [photo] } });
    await waitFor(() => expect(screen.getByTestId("attached").querySelectorAll("img").length).toBe(1));
    // smol.gguf has no projector: said before sending, with the model here that sees.
    const note = await screen.findByTestId("text-only-note");
    expect(note.textContent).toContain("smol.gguf reads text only");
    expect(note.textContent).toContain("gemma-3-4b.gguf");
    expect((screen.getByTestId("send") as HTMLButtonElement).disabled).toBe(true);
    // A file that is no picture is refused at once.
    await fireEvent.change(input, { target: { files: [new File(["x"], "notes.txt", { type: "text/plain" })] } });
    expect((await screen.findByTestId("attach-error")).textContent).toContain("notes.txt is not a PNG, JPEG, WebP or GIF picture");
  });

  it("sends the attached pictures with the message when the model sees", async () => {
    calls.conversations.mockResolvedValue([conv]);
    calls.models.mockResolvedValue([]);
    calls.create.mockResolvedValue(conv);
    calls.send.mockResolvedValue(null);
    calls.loaded.mockResolvedValue({ ...loaded, info: { ...loaded.info, vision: { file: "mmproj-F16.gguf", imageSide: 896, weightsBytes: 1, computeBytes: 1 } } });
    render(ChatView, { chat: new ChatStore(), models: new ModelsStore() });
    const input = (await screen.findByTestId("attach-input")) as HTMLInputElement;
    await waitFor(() => expect(screen.getByText("Say something")).toBeTruthy());
    await fireEvent.change(input, { target: { files: [new File([new Uint8Array([137, 80, 78, 71])], "photo.png", { type: "image/png" })] } });
    await waitFor(() => expect(screen.getByTestId("attached").querySelectorAll("img").length).toBe(1));
    expect(screen.queryByTestId("text-only-note")).toBeNull();
    await fireEvent.click(screen.getByTestId("send"));
    await waitFor(() => expect(calls.send).toHaveBeenCalled());
    const [, text, pictures] = calls.send.mock.calls[0];
    expect(text).toBe("");
    expect(pictures).toEqual(["data:image/png;base64,iVBORw=="]);
    expect(screen.queryByTestId("attached")).toBeNull();
  });
});
