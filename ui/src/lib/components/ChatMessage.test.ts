import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen } from "@testing-library/svelte";
import type { ChatToolCall, Message } from "$lib/api";
import ChatMessage from "./ChatMessage.svelte";

afterEach(cleanup);

function call(over: Partial<ChatToolCall>): ChatToolCall {
  return {
    id: 7,
    offset: 0,
    server: "files",
    tool: "read_text_file",
    arguments: '{"path":"/home/a/Notes/todo.md"}',
    state: "waiting",
    result: null,
    images: [],
    isError: false,
    readOnly: true,
    destructive: false,
    ...over,
  };
}

function reply(content: string, toolCalls: ChatToolCall[]): Message {
  return { id: 3, role: "assistant", content, state: "streaming", stats: null, error: null, toolCalls };
}

describe("a reply with tool calls", () => {
  it("puts each call where the model made it, and a waiting one asks the person", async () => {
    // "Café. " is 7 bytes in UTF-8 (é is two): the offset Rust gives is in bytes.
    const ondecide = vi.fn();
    render(ChatMessage, { message: reply("Café. Then the answer.", [call({ offset: 7 })]), ondecide });
    const card = screen.getByTestId("tool-call");
    const texts = screen.getAllByTestId("reply").map((r) => r.textContent?.trim());
    expect(texts).toEqual(["Café.", "Then the answer."]);
    // The card sits between the two pieces of text.
    const [before, after] = screen.getAllByTestId("reply");
    expect(before.compareDocumentPosition(card) & Node.DOCUMENT_POSITION_FOLLOWING).toBeTruthy();
    expect(card.compareDocumentPosition(after) & Node.DOCUMENT_POSITION_FOLLOWING).toBeTruthy();
    expect(card.textContent).toContain('"path": "/home/a/Notes/todo.md"');
    await fireEvent.click(screen.getByTestId("tool-always"));
    expect(ondecide).toHaveBeenCalledWith(7, "alwaysAllow");
  });

  it("folds a result, shows its images and never asks again once it ran", () => {
    const png = { mimeType: "image/png", data: "iVBORw0KGgo=" };
    const svg = { mimeType: "image/svg+xml", data: "PHN2Zz4=" };
    render(ChatMessage, { message: reply("", [call({ state: "done", result: "- milk\n- bread", images: [png, svg] })]), ondecide: vi.fn() });
    expect(screen.queryByTestId("tool-allow")).toBeNull();
    const result = screen.getByTestId("tool-result");
    expect(result.tagName).toBe("DETAILS");
    expect(result.hasAttribute("open")).toBe(false);
    expect(result.textContent).toContain("- milk");
    expect(result.querySelectorAll("img").length).toBe(1);
  });

  it("folds each round's reasoning instead of showing it as text", () => {
    // "<think>Look.</think>" is 20 bytes: the call comes after it.
    const content = "<think>Look.</think><think>Now answer.</think>It is there.";
    render(ChatMessage, { message: { ...reply(content, [call({ state: "done", offset: 20, result: "x" })]), state: "done" } });
    const texts = screen.getAllByTestId("reply").map((r) => r.textContent?.trim());
    expect(texts).toEqual(["It is there."]);
    const thoughts = [...document.querySelectorAll("details.thinking")].map((d) => d.textContent);
    expect(thoughts.some((t) => t?.includes("Look."))).toBe(true);
    expect(thoughts.some((t) => t?.includes("Now answer."))).toBe(true);
    expect(document.body.textContent).not.toContain("<think>");
  });
});
