import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen } from "@testing-library/svelte";
import type { HubModelPage, Message } from "$lib/api";

const calls = vi.hoisted(() => ({ openLink: vi.fn(), search: vi.fn() }));
vi.mock("$lib/api", async () => {
  const real = await vi.importActual<typeof import("$lib/api/index")>("$lib/api/index");
  return { ...real, api: { openLink: calls.openLink, hubSearch: calls.search } };
});
vi.mock("$lib/api/bindings", async (original) => ({ ...(await original<object>()), commands: {} }));

import { externalLinks, webAddress } from "./external-links";
import ChatMessage from "./ChatMessage.svelte";
import DiscoverView from "$lib/views/DiscoverView.svelte";
import { DiscoverStore } from "$lib/stores/discover.svelte";

afterEach(() => {
  cleanup();
  vi.clearAllMocks();
  document.body.innerHTML = "";
});

/** A click as a person makes it; returns whether the page's default action (navigating) was cancelled. */
function click(el: Element, init: MouseEventInit = {}, type = "click"): boolean {
  return !el.dispatchEvent(new MouseEvent(type, { bubbles: true, cancelable: true, button: 0, ...init }));
}

function box(html: string): { node: HTMLElement; open: ReturnType<typeof vi.fn>; destroy: () => void } {
  const node = document.createElement("div");
  node.innerHTML = html;
  document.body.appendChild(node);
  const open = vi.fn().mockResolvedValue(null);
  const { destroy } = externalLinks(node, open);
  return { node, open, destroy };
}

describe("webAddress", () => {
  it("accepts absolute http and https addresses only", () => {
    expect(webAddress("https://huggingface.co/x")).toBe("https://huggingface.co/x");
    expect(webAddress(" HTTP://Example.com/a")).toBe("http://example.com/a");
    for (const href of ["javascript:alert(1)", "JavaScript:alert(1)", "file:///etc/passwd", "data:text/html,hi", "mailto:a@b.c", "tauri://localhost/", "/relative", "#top", "LICENSE", "", null, undefined]) {
      expect(webAddress(href), String(href)).toBeNull();
    }
  });
});

describe("externalLinks", () => {
  it("hands a web link to the opener and keeps the window where it is", () => {
    const { node, open } = box('<p>See <a href="https://example.com/docs?a=1">the <em>docs</em></a>.</p>');
    const prevented = click(node.querySelector("em")!);
    expect(prevented).toBe(true);
    expect(open).toHaveBeenCalledExactlyOnceWith("https://example.com/docs?a=1");
  });

  it("opens nothing for javascript:, file: and relative links, and still stops the navigation", () => {
    const { node, open } = box('<a id="js" href="javascript:alert(1)">a</a><a id="file" href="file:///etc/passwd">b</a><a id="rel" href="/settings">c</a><a id="none">d</a>');
    for (const id of ["js", "file", "rel", "none"]) expect(click(node.querySelector(`#${id}`)!), id).toBe(true);
    expect(open).not.toHaveBeenCalled();
  });

  it("opens a middle-clicked link in the browser too, and leaves right clicks and other clicks alone", () => {
    const { node, open } = box('<a href="https://example.com/">x</a><span>text</span>');
    const a = node.querySelector("a")!;
    expect(click(a, { button: 1 }, "auxclick")).toBe(true);
    expect(click(a, { button: 2 }, "auxclick")).toBe(false);
    expect(click(node.querySelector("span")!)).toBe(false);
    expect(open).toHaveBeenCalledExactlyOnceWith("https://example.com/");
  });

  it("shows where a link goes on hover", () => {
    const { node } = box('<a href="https://evil.example/">huggingface.co</a><a href="javascript:x">y</a>');
    const [web, js] = node.querySelectorAll("a");
    web.dispatchEvent(new MouseEvent("mouseover", { bubbles: true }));
    js.dispatchEvent(new MouseEvent("mouseover", { bubbles: true }));
    expect(web.title).toBe("https://evil.example/");
    expect(js.title).toBe("This link opens nothing");
  });

  it("lets go of the container when destroyed", () => {
    // (An in-page link: with the handler gone, jsdom would otherwise try to navigate.)
    const { node, open, destroy } = box('<a href="#top">x</a>');
    destroy();
    expect(click(node.querySelector("a")!)).toBe(false);
    expect(open).not.toHaveBeenCalled();
  });
});

describe("links where Hearth renders them", () => {
  it("a link in a reply opens through open_link", async () => {
    calls.openLink.mockResolvedValue(null);
    const message = { id: 3, role: "assistant", content: "Read [the guide](https://example.com/guide) or [this](javascript:alert(1)).", state: "done", stats: null, error: null, toolCalls: [] } as unknown as Message;
    render(ChatMessage, { message });
    const link = await screen.findByText("the guide");
    expect(await fireEvent.click(link)).toBe(false); // cancelled: the window does not navigate
    expect(calls.openLink).toHaveBeenCalledExactlyOnceWith("https://example.com/guide");
    await fireEvent.click(screen.getByText("this"));
    expect(calls.openLink).toHaveBeenCalledTimes(1);
  });

  it("a link in a model card opens through open_link", async () => {
    calls.openLink.mockResolvedValue(null);
    calls.search.mockResolvedValue({ models: [], next: null });
    const store = new DiscoverStore();
    const model = { id: "a/b-GGUF", author: "a", downloads: 1, likes: 1, gated: false, updated: null, parameters: null, architecture: null };
    store.page = { model, card: '# B\n\nBased on <a href="https://example.com/base" target="_blank">the base model</a>.', files: [], projectors: [] } as HubModelPage;
    render(DiscoverView, { store, debounceMs: 1 });
    const link = await screen.findByText("the base model");
    expect(await fireEvent.click(link)).toBe(false);
    expect(calls.openLink).toHaveBeenCalledExactlyOnceWith("https://example.com/base");
  });
});
