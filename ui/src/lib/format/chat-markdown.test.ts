import { describe, expect, it } from "vitest";
import { renderReply, splitBlocks, splitThinking } from "./chat-markdown";

describe("renderReply", () => {
  it("shows hostile HTML in a reply as text, never as markup", () => {
    const html = renderReply('Look: <img src=x onerror=alert(1)> and <script>alert(2)</script> <a href="javascript:alert(3)">x</a>');
    const box = document.createElement("div");
    box.innerHTML = html;
    expect(box.querySelector("img, script")).toBeNull();
    expect(box.textContent).toContain("<img src=x onerror=alert(1)>");
    expect(box.textContent).toContain("<script>alert(2)</script>");
    expect(html).not.toMatch(/<(script|img|a)\b/i);
  });

  it("drops Markdown images and unsafe links", () => {
    const html = renderReply("![track](http://evil.example/p.png) [click](javascript:alert(1))");
    expect(html).not.toContain("<img");
    expect(html).not.toContain("javascript:");
  });

  it("highlights code and keeps dollars inside code", () => {
    const html = renderReply("```rust\nfn main() { let x = \"$5\"; }\n```\nand `$HOME` costs $5 or $6");
    expect(html).toContain('class="hljs language-rust"');
    expect(html).toContain("hljs-keyword");
    expect(html).toContain("$HOME");
    expect(html).not.toContain("<math");
  });

  it("renders math as MathML", () => {
    const html = renderReply("Euler: $e^{i\\pi} + 1 = 0$ and $$\\int_0^1 x\\,dx$$");
    expect((html.match(/<math/g) ?? []).length).toBe(2);
  });
});

describe("splitThinking", () => {
  it("folds reasoning away, also while it is still being written", () => {
    expect(splitThinking("<think>hmm, 2+2</think>\n\nIt is 4.")).toEqual({ thinking: "hmm, 2+2", answer: "It is 4.", thinkingOpen: false });
    expect(splitThinking("<think>still going")).toEqual({ thinking: "still going", answer: "", thinkingOpen: true });
    expect(splitThinking("No reasoning <think> here")).toEqual({ thinking: null, answer: "No reasoning <think> here", thinkingOpen: false });
  });
});

describe("splitBlocks", () => {
  it("cuts at blank lines but never inside a code fence, and loses nothing", () => {
    const md = "Para one.\n\n```py\nx = 1\n\ny = 2\n```\n\n- a\n- b\n\nTail";
    const blocks = splitBlocks(md);
    expect(blocks.join("\n")).toBe(md);
    expect(blocks).toHaveLength(4);
    expect(blocks[1]).toContain("x = 1\n\ny = 2");
  });
});
