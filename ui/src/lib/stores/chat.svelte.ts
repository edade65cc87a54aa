// Chat: the conversations, the open one's messages, the model in the engine, and the reply streaming
// now. Tokens arrive over a Channel, many per frame from a fast model; they are gathered in a plain
// buffer and moved into the reactive message once per animation frame, so the page re-renders at the
// screen's rate whatever the model's.
import { api, toHearthError } from "$lib/api";
import type { ChatEvent, Conversation, ConversationSettings, HearthError, LoadedModel, LoadEvent, Message } from "$lib/api";

/** Where a reply's events come from: a Channel in the app, a synthetic stream in tests and benches. */
export type EventSource = (onEvent: (e: ChatEvent) => void) => Promise<unknown>;

export class ChatStore {
  conversations = $state<Conversation[]>([]);
  query = $state("");
  current = $state<Conversation | null>(null);
  messages = $state<Message[]>([]);
  /** The reply streaming now (its id), if any. */
  streamingId = $state<number | null>(null);
  loaded = $state<LoadedModel | null>(null);
  /** 0..1 while a model loads. */
  loading = $state<number | null>(null);
  loadingPath = $state<string | null>(null);
  error = $state<HearthError | null>(null);
  /** A load refused because the plan is red: the model and what loading it anyway would do. */
  overflow = $state<{ path: string; warning: string } | null>(null);

  /** Text received but not yet shown: moved into the message on the next frame. */
  private pending = "";
  private frame: number | null = null;
  /** Tokens received in this reply, for the stream benchmark. */
  received = 0;

  async refresh(): Promise<void> {
    try {
      this.conversations = await api.chatConversations(this.query.trim() || null);
      this.loaded = await api.engineLoaded();
    } catch (e) {
      this.error = toHearthError(e);
    }
  }

  async open(c: Conversation): Promise<void> {
    this.current = c;
    this.error = null;
    try {
      this.messages = await api.chatMessages(c.id);
    } catch (e) {
      this.error = toHearthError(e);
    }
  }

  async create(): Promise<void> {
    try {
      const c = await api.chatCreate();
      this.conversations = [c, ...this.conversations.filter((x) => x.id !== c.id)];
      this.current = c;
      this.messages = [];
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
    if (this.current?.id === c.id) {
      this.current = null;
      this.messages = [];
    }
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
  async load(path: string, force = false): Promise<void> {
    this.loading = 0;
    this.loadingPath = path;
    this.error = null;
    this.overflow = null;
    try {
      this.loaded = await api.engineLoad(path, force, (e: LoadEvent) => {
        if (e.type === "progress") this.loading = e.fraction;
      });
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
  }

  async send(text: string): Promise<void> {
    if (!this.current) await this.create();
    const c = this.current;
    if (!c || !text.trim()) return;
    // Shown at once; the real row (with its id) replaces it when the backend has saved it.
    this.messages = [...this.messages, { id: -1, role: "user", content: text.trim(), state: "done", stats: null, error: null }];
    await this.stream((on) => api.chatSend(c.id, text, on));
  }

  async regenerate(): Promise<void> {
    const c = this.current;
    if (!c) return;
    const lastUser = this.messages.map((m) => m.role).lastIndexOf("user");
    this.messages = this.messages.slice(0, lastUser + 1);
    await this.stream((on) => api.chatRegenerate(c.id, on));
  }

  async edit(m: Message, text: string): Promise<void> {
    const c = this.current;
    if (!c || !text.trim()) return;
    const at = this.messages.findIndex((x) => x.id === m.id);
    this.messages = [...this.messages.slice(0, at), { ...m, id: -1, content: text.trim() }];
    await this.stream((on) => api.chatEdit(c.id, m.id, text, on));
  }

  async stop(): Promise<void> {
    if (this.current) await this.guard(() => api.chatStop(this.current!.id));
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

  /** Run one reply from `source`, showing its text as it comes. Public for the stream benchmark. */
  async stream(source: EventSource): Promise<void> {
    this.error = null;
    this.received = 0;
    try {
      await source((e) => this.receive(e));
    } catch (e) {
      // The Failed event has said it already when the reply had started.
      if (this.streamingId === null) this.error = toHearthError(e);
    } finally {
      this.flush();
      this.streamingId = null;
      await this.refreshKeepingCurrent();
    }
  }

  receive(e: ChatEvent): void {
    switch (e.type) {
      case "started": {
        const msgs = this.messages.map((m) => (m.id === -1 && e.userMessageId !== null ? { ...m, id: e.userMessageId } : m));
        this.messages = [...msgs, { id: e.replyId, role: "assistant", content: "", state: "streaming", stats: null, error: null }];
        this.streamingId = e.replyId;
        // The first message names the conversation: show the new title in the list now.
        void this.refreshKeepingCurrent();
        break;
      }
      case "text":
        this.received += 1;
        this.pending += e.text;
        this.frame ??= requestAnimationFrame(() => this.flush());
        break;
      case "done":
        this.flush();
        this.patchStreaming((m) => ({ ...m, state: e.stats.stopReason === "cancelled" ? "stopped" : "done", stats: e.stats }));
        break;
      case "failed":
        this.flush();
        if (this.streamingId === null) this.error = e.error;
        this.patchStreaming((m) => ({ ...m, state: "failed", error: e.error.message }));
        break;
    }
  }

  private flush(): void {
    if (this.frame !== null) cancelAnimationFrame(this.frame);
    this.frame = null;
    if (!this.pending) return;
    const text = this.pending;
    this.pending = "";
    this.patchStreaming((m) => ({ ...m, content: m.content + text }));
  }

  private patchStreaming(f: (m: Message) => Message): void {
    const id = this.streamingId;
    if (id === null) return;
    const i = this.messages.findIndex((m) => m.id === id);
    if (i >= 0) this.messages[i] = f(this.messages[i]);
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
