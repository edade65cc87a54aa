// How fast the Chat view can show a streaming reply: a synthetic stream (no model) is fed through
// the same store and rendering the app uses, in the real window, at fixed rates and as fast as
// possible. Prints, per rate, the tokens/s shown, whether every token arrived, and the frame gaps
// (the longest one is how long the view froze). Writes target/bench/ui_stream.json.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { launchApp, root } from "../e2e/lib/app.mjs";

const FEED = `
const rate = arguments[0], total = arguments[1], keep = arguments.length > 3 && arguments[2], done = arguments[arguments.length - 1];
const chat = window.__hearthChat;
const words = [" The", " sea", " is", " **deep**", ",", " and", " the", " \`stars\`", " are", " far", ".", "\\n\\n", " Waves", " fold", " over", " one", " another", ";", "\\n\\n- item", " one", "\\n- item", " two", "\\n\\n"];
chat.current = { id: 999999, title: "bench", modelPath: null, updatedAt: 0, messageCount: 0,
  settings: { systemPrompt: "", contextOverflow: "dropOldest", sampling: { temperature: 0, topK: 40, topP: 1, minP: 0, repeatPenalty: 1, repeatLastN: 64, seed: null, maxTokens: null, stop: [] } } };
const ask = { id: -1, role: "user", content: "Write a lot.", state: "done", stats: null, error: null };
chat.messages = keep ? [...chat.messages, ask] : [ask];
let expected = "";
const gaps = [];
let last = performance.now();
let watching = true;
const tick = (t) => { gaps.push(t - last); last = t; if (watching) requestAnimationFrame(tick); };
requestAnimationFrame(tick);
const t0 = performance.now();
let t1 = t0;
chat.stream(async (on) => {
  on({ type: "started", conversationId: 999999, userMessageId: 1, replyId: 2 });
  let sent = 0;
  await new Promise((resolve) => {
    const step = () => {
      const due = rate > 0 ? Math.min(total, Math.floor(((performance.now() - t0) * rate) / 1000)) : Math.min(total, sent + 200);
      while (sent < due) { const w = words[sent % words.length]; expected += w; on({ type: "text", conversationId: 999999, replyId: 2, text: w }); sent++; }
      if (sent >= total) resolve(); else setTimeout(step, rate > 0 ? 1 : 0);
    };
    step();
  });
  t1 = performance.now();
  on({ type: "done", conversationId: 999999, replyId: 2, stats: { promptTokensTotal: 1, reusedPrefixTokens: 0, promptTokens: 1, promptMs: 1, generatedTokens: total, generationMs: t1 - t0, timeToFirstTokenMs: 1, stopReason: "eos" } });
}).then(() => new Promise((r) => setTimeout(r, 100))).then(() => {
  watching = false;
  const shown = document.querySelectorAll('[data-testid="reply"]');
  const dom = shown[shown.length - 1]?.textContent ?? "";
  const sorted = [...gaps].sort((a, b) => a - b);
  done({
    tokens: total,
    received: chat.received,
    intact: chat.messages.at(-1).content === expected,
    lastWordShown: dom.trimEnd().endsWith(expected.trim().split(/\\s+/).pop().replace(/[*\`]/g, "")),
    seconds: (t1 - t0) / 1000,
    frames: gaps.length,
    p50FrameMs: sorted[Math.floor(sorted.length * 0.5)],
    p95FrameMs: sorted[Math.floor(sorted.length * 0.95)],
    maxFrameMs: sorted[sorted.length - 1],
  });
}, (e) => done({ error: String(e) }));
`;

const app = await launchApp();
const results = [];
try {
  const { driver } = app;
  await driver.cmd("POST", "/timeouts", { script: 120_000 });
  await driver.click(await driver.waitFor('[data-testid="nav-chat"]'));
  await driver.waitFor('[data-testid="chat-view"]');
  for (const [label, rate, total] of [
    ["100 tok/s (a fast GPU)", 100, 500],
    ["2,000 tok/s", 2000, 10_000],
    ["5,000 tok/s", 5000, 20_000],
    ["as fast as fed", 0, 20_000],
  ]) {
    const r = await driver.executeAsync(FEED, [rate, total]);
    const shownRate = r.tokens / r.seconds;
    results.push({ label, rate, ...r, tokensPerSecond: shownRate });
    console.log(
      `${label.padEnd(24)} ${shownRate.toFixed(0).padStart(7)} tok/s shown · ${r.received}/${r.tokens} tokens · intact ${r.intact && r.lastWordShown} · frames p50 ${r.p50FrameMs?.toFixed(1)} ms, p95 ${r.p95FrameMs?.toFixed(1)} ms, longest ${r.maxFrameMs?.toFixed(0)} ms`,
    );
  }
  // A conversation of 2,000 messages: how long it takes to open, and how smoothly it scrolls and
  // streams a reply at the end.
  const LONG = `
const [done] = arguments;
const chat = window.__hearthChat;
const text = (i) => i % 2 ? "Here is **an answer** with " + String.fromCharCode(96) + "code" + String.fromCharCode(96) + " and a list:\\n\\n- one\\n- two\\n\\n" + "More words. ".repeat(20) : "A question number " + i + "?";
const many = Array.from({ length: 2000 }, (_, i) => ({ id: 10000 + i, role: i % 2 ? "assistant" : "user", content: text(i), state: "done", stats: null, error: null }));
const t0 = performance.now();
chat.messages = many;
setTimeout(() => {
  const opened = performance.now() - t0;
  const scroller = document.querySelector('[data-testid="messages"]');
  const gaps = [];
  let last = performance.now();
  let frames = 0;
  const step = (t) => {
    gaps.push(t - last);
    last = t;
    scroller.scrollTop = frames % 2 ? 0 : scroller.scrollHeight;
    if (++frames < 60) requestAnimationFrame(step);
    else {
      const sorted = gaps.slice(1).sort((a, b) => a - b);
      done({ messages: many.length, onPage: document.querySelectorAll('[data-testid="message"]').length, openedMs: opened, p95FrameMs: sorted[Math.floor(sorted.length * 0.95)], maxFrameMs: sorted[sorted.length - 1] });
    }
  };
  requestAnimationFrame(step);
}, 0);
`;
  const long = await driver.executeAsync(LONG, []);
  results.push({ label: "2,000-message conversation", ...long });
  console.log(
    `2,000 messages: ${long.onPage} on the page, opened in ${long.openedMs.toFixed(0)} ms; scrolling top to bottom every frame: p95 ${long.p95FrameMs.toFixed(1)} ms, longest ${long.maxFrameMs.toFixed(0)} ms`,
  );
  const r = await driver.executeAsync(FEED, [2000, 4000, true]);
  results.push({ label: "2,000 tok/s after 2,000 messages", rate: 2000, ...r, tokensPerSecond: r.tokens / r.seconds });
  console.log(`then 2,000 tok/s streamed at the end: ${(r.tokens / r.seconds).toFixed(0)} tok/s shown, intact ${r.intact}, frames p95 ${r.p95FrameMs.toFixed(1)} ms, longest ${r.maxFrameMs.toFixed(0)} ms`);
} finally {
  await app.stop();
}
mkdirSync(join(root, "target/bench"), { recursive: true });
writeFileSync(join(root, "target/bench/ui_stream.json"), JSON.stringify(results, null, 2));
