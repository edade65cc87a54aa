// A model's reply is untrusted text: it may contain HTML, scripts, event handlers, or links meant to
// trick. It is rendered as Markdown with marked, code highlighted by highlight.js, math by KaTeX (as
// MathML, which needs no inline styles), then sanitized with DOMPurify; nothing raw reaches the page.
import { Marked } from "marked";
import DOMPurify from "dompurify";
import hljs from "highlight.js/lib/core";
import katex from "katex";
import bash from "highlight.js/lib/languages/bash";
import c from "highlight.js/lib/languages/c";
import cpp from "highlight.js/lib/languages/cpp";
import css from "highlight.js/lib/languages/css";
import go from "highlight.js/lib/languages/go";
import java from "highlight.js/lib/languages/java";
import javascript from "highlight.js/lib/languages/javascript";
import json from "highlight.js/lib/languages/json";
import python from "highlight.js/lib/languages/python";
import rust from "highlight.js/lib/languages/rust";
import sql from "highlight.js/lib/languages/sql";
import typescript from "highlight.js/lib/languages/typescript";
import xml from "highlight.js/lib/languages/xml";
import yaml from "highlight.js/lib/languages/yaml";

const languages = { bash, c, cpp, css, go, java, javascript, json, python, rust, sql, typescript, xml, yaml };
for (const [name, lang] of Object.entries(languages)) hljs.registerLanguage(name, lang);
hljs.registerAliases(["sh", "shell", "zsh"], { languageName: "bash" });
hljs.registerAliases(["js", "jsx"], { languageName: "javascript" });
hljs.registerAliases(["ts", "tsx"], { languageName: "typescript" });
hljs.registerAliases(["py"], { languageName: "python" });
hljs.registerAliases(["rs"], { languageName: "rust" });
hljs.registerAliases(["html", "svg"], { languageName: "xml" });
hljs.registerAliases(["yml"], { languageName: "yaml" });
hljs.registerAliases(["c++", "hpp"], { languageName: "cpp" });

function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

const marked = new Marked({
  gfm: true,
  breaks: false,
  renderer: {
    code({ text, lang }) {
      const name = (lang ?? "").trim().split(/\s+/)[0]?.toLowerCase() ?? "";
      const known = name && hljs.getLanguage(name);
      const body = known ? hljs.highlight(text, { language: name, ignoreIllegals: true }).value : escapeHtml(text);
      const label = name ? `<span class="lang">${escapeHtml(name)}</span>` : "";
      return `<pre class="code">${label}<code class="hljs${known ? ` language-${escapeHtml(name)}` : ""}">${body}</code></pre>`;
    },
    // Raw HTML in a reply is shown as text, not interpreted: a model has no business writing markup.
    html({ text }) {
      return escapeHtml(text);
    },
  },
});

/** Math spans, taken out before Markdown sees them (so `_` and `*` inside stay math). */
const MATH = /\$\$([\s\S]+?)\$\$|\\\[([\s\S]+?)\\\]|\\\(([\s\S]+?)\\\)|(?<![\\$\w])\$(?!\s)([^$\n]+?)(?<!\s)\$(?![\w$])/g;

function renderMath(tex: string, display: boolean): string {
  try {
    return katex.renderToString(tex, { displayMode: display, output: "mathml", throwOnError: false, trust: false });
  } catch {
    return escapeHtml(tex);
  }
}

/** Markdown with math, highlighted code, and everything sanitized. Safe to put in `{@html}`. */
export function renderReply(md: string): string {
  const math: string[] = [];
  // Code spans and blocks keep their dollars: math is only replaced outside them.
  const parts = md.split(/(```[\s\S]*?(?:```|$)|`[^`\n]*`)/g);
  const prepared = parts
    .map((part, i) =>
      i % 2 === 1
        ? part
        : part.replace(MATH, (_m, block, bracket, paren, inline) => {
            const display = block !== undefined || bracket !== undefined;
            math.push(renderMath((block ?? bracket ?? paren ?? inline) as string, display));
            return `@@MATH${math.length - 1}@@`;
          }),
    )
    .join("");
  let html = marked.parse(prepared, { async: false }) as string;
  html = html.replace(/@@MATH(\d+)@@/g, (_m, i) => math[Number(i)] ?? "");
  return DOMPurify.sanitize(html, {
    FORBID_TAGS: ["style", "form", "input", "button", "iframe", "object", "embed", "img", "video", "audio", "script", "link", "meta"],
    FORBID_ATTR: ["style", "srcset"],
    ALLOW_DATA_ATTR: false,
    USE_PROFILES: { html: true, mathMl: true },
  });
}

/** A reply split into its reasoning (`<think>…</think>`, possibly still open while streaming) and
 * its answer. */
export function splitThinking(text: string): { thinking: string | null; answer: string; thinkingOpen: boolean } {
  const start = text.indexOf("<think>");
  if (start === -1 || text.slice(0, start).trim() !== "") return { thinking: null, answer: text, thinkingOpen: false };
  const rest = text.slice(start + "<think>".length);
  const end = rest.indexOf("</think>");
  if (end === -1) return { thinking: rest.trim(), answer: "", thinkingOpen: true };
  return { thinking: rest.slice(0, end).trim(), answer: rest.slice(end + "</think>".length).replace(/^\s+/, ""), thinkingOpen: false };
}

/** A reply cut into Markdown blocks at blank lines outside code fences. While a reply streams only
 * its last block changes, so only that block is rendered again each frame; the others come from
 * the cache. (Rendering the whole reply every frame froze the view for seconds on long replies.) */
export function splitBlocks(md: string): string[] {
  const blocks: string[] = [];
  let current: string[] = [];
  let fence: string | null = null;
  for (const line of md.split("\n")) {
    const marker = /^\s{0,3}(`{3,}|~{3,})/.exec(line)?.[1];
    if (marker) {
      if (fence === null) fence = marker[0].repeat(marker.length);
      else if (marker.startsWith(fence)) fence = null;
    }
    current.push(line);
    if (fence === null && line.trim() === "" && current.some((l) => l.trim() !== "")) {
      blocks.push(current.join("\n"));
      current = [];
    }
  }
  if (current.length > 0) blocks.push(current.join("\n"));
  return blocks;
}

const cache = new Map<string, string>();

/** `renderReply` of one block, remembered: a finished block is rendered once. */
export function renderBlock(block: string): string {
  let html = cache.get(block);
  if (html === undefined) {
    html = renderReply(block);
    if (cache.size > 5000) cache.clear();
    cache.set(block, html);
  }
  return html;
}
