// Chat: the conversations, their messages, the model in the engine, and the replies streaming now.
// Several conversations may be writing at once (the model has slots): each reply's events name its
// conversation, and each conversation keeps its own messages and stream, so switching away from a
// reply leaves it streaming (and saved by the backend), and Stop stops the reply of the conversation
// shown. Tokens arrive over a Channel, many per frame from a fast model; they are gathered in a plain
// buffer per conversation and moved into the reactive message once per animation frame, so the page
// re-renders at the screen's rate whatever the model's.
import { api, toHearthError } from "$lib/api";
import type {
  ChatEvent,
  Conversation,
  ConversationSettings,
  HearthError,
  LoadedModel,
  LoadEstimate,
  LoadEvent,
  Message,
  RemoteModel,
  ToolDecision,
} from "$lib/api";

/** Where a reply's events come from: a Channel in the app, a synthetic stream in tests and benches. */
export type EventSource = (onEvent: (e: ChatEvent) => void) => Promise<unknown>;

export class ChatStore {
  conversations = $state<Conversation[]>([]);
  query = $state("");
  current = $state<Conversation | null>(null);
  /** Messages by conversation: the one shown, and every one with a reply streaming. */
  private lists = $state<Record<number, Message[]>>({});
  /** The reply streaming in each conversation: its id once the backend has saved it, else -1. */
  streams = $state<Record<number, number>>({});
  loaded = $state<LoadedModel | null>(null);
  /** The model on another machine Chat answers with instead, through a connection. */
  remote = $state<RemoteModel | null>(null);
  /** Checking that a connection still serves the model chosen. */
  connecting = $state(false);
  /** 0..1 while a model loads. */
  loading = $state<number | null>(null);
  loadingPath = $state<string | null>(null);
  /** What the load of the model loaded (or loading) was predicted to take, to show beside the time it took. */
  predicted = $state<LoadEstimate | null>(null);
  error = $state<HearthError | null>(null);
  /** A load refused because the plan is red: the model and what loading it anyway would do. */
  overflow = $state<{ path: string; warning: string } | null>(null);

  /** Text received but not yet shown, by conversation: moved into the messages on the next frame. */
  private pending: Record<number, string> = {};
  private frame: number | null = null;
  /** Tokens received in this reply, for the stream benchmark. */
  received = 0;

  /** The messages of the conversation shown. */
  get messages(): Message[] {
    const c = this.current;
    return c ? (this.lists[c.id] ?? []) : [];
  }

  set messages(m: Message[]) {
    const c = this.current;
    if (c) this.lists[c.id] = m;
  }

  /** The reply streaming in the conversation shown (its id), if any. */
  get streamingId(): number | null {
    const c = this.current;
    const id = c ? this.streams[c.id] : undefined;
    return id === undefined || id === -1 ? null : id;
  }

  /** A reply is on its way in the conversation shown (saved or not yet). */
  get busy(): boolean {
    return this.current !== null && this.current.id in this.streams;
  }

  /** Whether conversation `id` has a reply streaming (for the list's marker). */
  isStreaming(id: number): boolean {
    return id in this.streams;
  }

  /** The conversations (searched by `query`). What Chat answers with comes from `watch`. */
  async refresh(): Promise<void> {
    this.watch();
    try {
      this.conversations = await api.chatConversations(this.query.trim() || null);
    } catch (e) {
      this.error = toHearthError(e);
    }
  }

  private watching = false;

  /** Follow what Chat answers with (a load, an unload, a model unloaded to make room, a worker
   * that died, a connection chosen): Rust says it, once now and at every change after, so
   * nothing asks again after a reply. Once per store. */
  watch(): void {
    if (this.watching) return;
    this.watching = true;
    void api
      .engineWatch((m) => {
        this.loaded = m.loaded;
        this.remote = m.remote;
      })
      .catch((e: unknown) => {
        this.watching = false;
        this.error = toHearthError(e);
      });
  }

  /** A conversation's row as Rust sent it with a reply: into the list (first, as the most recent)
   * and the header, without asking for the list again. */
  private upsert(c: Conversation): void {
    const listed = this.conversations.some((x) => x.id === c.id);
    if (listed || !this.query.trim()) this.conversations = [c, ...this.conversations.filter((x) => x.id !== c.id)];
    if (this.current?.id === c.id) this.current = c;
  }

  async open(c: Conversation): Promise<void> {
    this.current = c;
    this.error = null;
    // A conversation with a reply streaming keeps the messages its stream is writing into.
    if (this.isStreaming(c.id)) return;
    try {
      const messages = await api.chatMessages(c.id);
      if (!this.isStreaming(c.id)) this.lists[c.id] = messages;
    } catch (e) {
      this.error = toHearthError(e);
    }
    // Conversations neither shown nor streaming let go of their messages.
    for (const id of Object.keys(this.lists).map(Number)) {
      if (id !== this.current?.id && !this.isStreaming(id)) delete this.lists[id];
    }
  }

  async create(): Promise<void> {
    try {
      const c = await api.chatCreate();
      this.conversations = [c, ...this.conversations.filter((x) => x.id !== c.id)];
      this.current = c;
      this.lists[c.id] = [];
    } catch (e) {
      this.error = toHearthError(e);
    }
  }

  async rename(c: Conversation, title: string): Promise<void> {
    await this.guard(() => api.chatRename(c.id, title));
    await this.refreshKeepingCurrent();
  }

  async remove(c: Conversation): Promise<void> {
    await this.guard(() => api.chatDelete(c.id));
    if (this.current?.id === c.id) this.current = null;
    delete this.lists[c.id];
    await this.refresh();
  }

  async saveSettings(settings: ConversationSettings): Promise<void> {
    const c = this.current;
    if (!c) return;
    await this.guard(() => api.chatSetSettings(c.id, settings));
    this.current = { ...c, settings };
  }

  /**
   * Load `path`. A model the plan says will not fit comes back as `overflow` (the warning of what
   * loading it anyway does), not as an error: only `load(path, true)`, after the person confirmed,
   * loads it.
   */
  async load(path: string, force = false, predicted: LoadEstimate | null = null): Promise<void> {
    this.predicted = predicted;
    this.loading = 0;
    this.loadingPath = path;
    this.error = null;
    this.overflow = null;
    try {
      this.loaded = await api.engineLoad(path, force, (e: LoadEvent) => {
        if (e.type === "progress") this.loading = e.fraction;
      });
      this.remote = null;
    } catch (e) {
      const error = toHearthError(e);
      if (error.code === "WOULD_NOT_FIT") this.overflow = { path, warning: error.message };
      else this.error = error;
      this.loaded = await api.engineLoaded().catch(() => null);
    } finally {
      this.loading = null;
      this.loadingPath = null;
    }
  }

  async unload(): Promise<void> {
    await this.guard(() => api.engineUnload());
    this.loaded = null;
    this.remote = null;
  }

  /** A model answers, here or on another machine. */
  get ready(): boolean {
    return this.loaded !== null || this.remote !== null;
  }

  /** Answer with `model` on its connection, once the endpoint confirms it serves it. */
  async useRemote(model: RemoteModel): Promise<void> {
    this.connecting = true;
    this.error = null;
    try {
      this.remote = await api.chatUseRemote(model);
      this.loaded = null;
    } catch (e) {
      this.error = toHearthError(e);
    } finally {
      this.connecting = false;
    }
  }

  /** Send `text` with `pictures` (data URLs, as read from the files the person attached). */
  async send(text: string, pictures: string[] = []): Promise<void> {
    if (!this.current) await this.create();
    const c = this.current;
    if (!c || (!text.trim() && pictures.length === 0) || this.isStreaming(c.id)) return;
    // Shown at once (each picture as its own thumbnail); the real row (with its id) replaces it
    // when the backend has saved it.
    const images = pictures.map((url, i) => ({ hash: `pending-${i}`, at: 0, width: 0, height: 0, thumbnail: url }));
    this.lists[c.id] = [
      ...(this.lists[c.id] ?? []),
      { id: -1, role: "user", content: text.trim(), state: "done", stats: null, error: null, toolCalls: [], images },
    ];
    await this.stream((on) => api.chatSend(c.id, text, pictures, on), c.id);
  }

  /** Whether the model Chat answers with reads pictures (its projector loaded with it). */
  get sees(): boolean {
    return this.loaded?.info.vision != null;
  }

  /** A picture of the conversation shown, whole, as a data URL. */
  async picture(hash: string): Promise<string | null> {
    const c = this.current;
    if (!c) return null;
    try {
      return await api.chatPicture(c.id, hash);
    } catch (e) {
      this.error = toHearthError(e);
      return null;
    }
  }

  async regenerate(): Promise<void> {
    const c = this.current;
    if (!c || this.isStreaming(c.id)) return;
    const lastUser = this.messages.map((m) => m.role).lastIndexOf("user");
    this.messages = this.messages.slice(0, lastUser + 1);
    await this.stream((on) => api.chatRegenerate(c.id, on), c.id);
  }

  async edit(m: Message, text: string): Promise<void> {
    const c = this.current;
    if (!c || !text.trim() || this.isStreaming(c.id)) return;
    const at = this.messages.findIndex((x) => x.id === m.id);
    this.messages = [...this.messages.slice(0, at), { ...m, id: -1, content: text.trim() }];
    await this.stream((on) => api.chatEdit(c.id, m.id, text, on), c.id);
  }

  /** Stops the reply of the conversation shown; the others go on. */
  async stop(): Promise<void> {
    const c = this.current;
    if (c) await this.guard(() => api.chatStop(c.id));
  }

  /** The person's answer to a tool call that waits. */
  async decide(callId: number, decision: ToolDecision): Promise<void> {
    await this.guard(() => api.chatDecide(callId, decision));
  }

  async exportTo(json: boolean): Promise<string | null> {
    const c = this.current;
    if (!c) return null;
    try {
      return await api.chatExport(c.id, json);
    } catch (e) {
      this.error = toHearthError(e);
      return null;
    }
  }

  /**
   * Run one reply in conversation `id` from `source`, showing its text as it comes, whichever
   * conversation is shown meanwhile. Public for the stream benchmark.
   */
  async stream(source: EventSource, id: number | undefined = this.current?.id): Promise<void> {
    if (id === undefined) return;
    this.error = null;
    this.received = 0;
    this.streams[id] = -1;
    let started = false;
    try {
      await source((e) => {
        started ||= e.type === "started";
        this.receive(e);
      });
    } catch (e) {
      // The Failed event has said it already when the reply had started.
      if (!started && this.current?.id === id) this.error = toHearthError(e);
    } finally {
      this.flush();
      delete this.streams[id];
    }
  }

  receive(e: ChatEvent): void {
    if (e.type === "conversation") {
      // Its title from the first message, its count and time: the list and header follow.
      this.upsert(e.conversation);
      return;
    }
    const id = e.conversationId;
    switch (e.type) {
      case "started": {
        const msgs = (this.lists[id] ?? []).map((m) => (m.id === -1 && e.userMessageId !== null ? { ...m, id: e.userMessageId } : m));
        this.lists[id] = [...msgs, { id: e.replyId, role: "assistant", content: "", state: "streaming", stats: null, error: null, toolCalls: [], images: [] }];
        this.streams[id] = e.replyId;
        break;
      }
      case "text":
        this.received += 1;
        this.pending[id] = (this.pending[id] ?? "") + e.text;
        this.frame ??= requestAnimationFrame(() => this.flush());
        break;
      case "toolCall":
        // The text before the call first, so the call sits where the model made it.
        this.flush();
        this.patchReply(id, e.replyId, (m) => {
          const calls = m.toolCalls.filter((c) => c.id !== e.call.id);
          return { ...m, toolCalls: [...calls, e.call].sort((a, b) => a.id - b.id) };
        });
        break;
      case "done":
        this.flush();
        this.patchReply(id, e.replyId, (m) => ({ ...m, state: e.stats.stopReason === "cancelled" ? "stopped" : "done", stats: e.stats }));
        break;
      case "failed":
        this.flush();
        if (e.replyId === null) {
          if (this.current?.id === id) this.error = e.error;
        } else {
          this.patchReply(id, e.replyId, (m) => ({ ...m, state: "failed", error: e.error.message }));
        }
        break;
    }
  }

  private flush(): void {
    if (this.frame !== null) cancelAnimationFrame(this.frame);
    this.frame = null;
    for (const [key, text] of Object.entries(this.pending)) {
      const id = Number(key);
      const reply = this.streams[id];
      if (text && reply !== undefined) this.patchReply(id, reply, (m) => ({ ...m, content: m.content + text }));
    }
    this.pending = {};
  }

  private patchReply(conversation: number, reply: number, f: (m: Message) => Message): void {
    const list = this.lists[conversation];
    if (!list) return;
    const i = list.findIndex((m) => m.id === reply);
    if (i >= 0) list[i] = f(list[i]);
  }

  private async refreshKeepingCurrent(): Promise<void> {
    await this.refresh();
    const id = this.current?.id;
    const fresh = this.conversations.find((c) => c.id === id);
    if (fresh) this.current = fresh;
  }

  private async guard(f: () => Promise<unknown>): Promise<void> {
    try {
      await f();
    } catch (e) {
      this.error = toHearthError(e);
    }
  }
}

export const chat = new ChatStore();
