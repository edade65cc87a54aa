// Model cards are untrusted HTML-in-Markdown from anyone on the Hub: rendered with marked, then
// sanitized with DOMPurify (no scripts, no event handlers, no forms or frames). Its links open in the
// browser, never in the window (components/external-links).
import { marked } from "marked";
import DOMPurify from "dompurify";

/** Drop a leading YAML front matter block (`---` … `---`). */
export function stripFrontMatter(md: string): string {
  const m = /^---\r?\n[\s\S]*?\r?\n---\r?\n?/.exec(md);
  return m ? md.slice(m[0].length) : md;
}

export function renderMarkdown(md: string): string {
  const html = marked.parse(stripFrontMatter(md), { async: false, gfm: true }) as string;
  return DOMPurify.sanitize(html, {
    FORBID_TAGS: ["style", "form", "input", "button", "iframe", "object", "embed", "svg", "math"],
    FORBID_ATTR: ["style"],
    ALLOW_DATA_ATTR: false,
  });
}
