// Links in rendered Markdown (a model's reply, a model card) open in the person's browser, never in
// the window. A click on one is taken over here: a web address (http or https) goes to the shell's
// `open_link`, anything else (javascript:, file:, a relative path) opens nothing. The shell refuses
// to leave the app whatever happens here; this is what makes a click do something useful.
import { api } from "$lib/api";

/** The address a link may open in the browser, or null: absolute http and https only. */
export function webAddress(href: string | null | undefined): string | null {
  if (!href) return null;
  try {
    // No base: a relative link would resolve against the app itself.
    const url = new URL(href.trim());
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

/** Svelte action for a container of rendered links. `open` is for tests; the app uses `open_link`. */
export function externalLinks(node: HTMLElement, open: (url: string) => Promise<unknown> = (url) => api.openLink(url)) {
  const link = (e: Event): HTMLAnchorElement | null => {
    const a = e.target instanceof Element ? e.target.closest("a") : null;
    return a && node.contains(a) ? a : null;
  };
  const onClick = (e: MouseEvent) => {
    // The primary button (click) and the middle one (auxclick); a right click shows the menu.
    if (e.button > 1) return;
    const a = link(e);
    if (!a) return;
    e.preventDefault();
    const url = webAddress(a.getAttribute("href"));
    if (url) open(url).catch((err) => console.warn("The link could not be opened:", err));
  };
  // Where a link goes, shown on hover: a card's "click here" may point anywhere.
  const onOver = (e: MouseEvent) => {
    const a = link(e);
    if (a && !a.title) a.title = webAddress(a.getAttribute("href")) ?? "This link opens nothing";
  };
  node.addEventListener("click", onClick);
  node.addEventListener("auxclick", onClick);
  node.addEventListener("mouseover", onOver);
  return {
    destroy() {
      node.removeEventListener("click", onClick);
      node.removeEventListener("auxclick", onClick);
      node.removeEventListener("mouseover", onOver);
    },
  };
}
