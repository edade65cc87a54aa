// Chat in the real window with the real test model: load it (with progress), send a message and
// watch the reply arrive token by token, stop it, regenerate, edit and resend; the reply's figures
// show. Screenshots mid-stream and finished.
import { test } from "node:test";
import assert from "node:assert/strict";
import { homedir } from "node:os";
import { join } from "node:path";
import { launchApp, newGreedyChat, saveScreenshot, until } from "./lib/app.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const models = process.env.HEARTH_TEST_MODELS ?? join(homedir(), ".cache/hearth/test-models");

test("load the test model, chat, stop, regenerate, edit", async () => {
  // The test model is found where it lies, as a model in another app's folder would be.
  const app = await launchApp({ env: { HF_HUB_CACHE: models } });
  const { driver } = app;
  const messages = async () =>
    (await driver.readAll('[data-testid="message"]', ["data-role", "data-state"])).map((e) => ({
      role: e["data-role"],
      state: e["data-state"],
      text: e.text,
    }));
  const last = async () => (await messages()).at(-1);
  try {
    await driver.click(await driver.waitFor('[data-testid="nav-chat"]'));
    await driver.click(await driver.waitFor('[data-testid="load-model"]'));
    await driver.waitFor('[data-testid="model-loaded"]', 60_000);
    // (Read as textContent: WebKitWebDriver's visible text leaves out text that can be cut with an ellipsis.)
    assert.equal(await driver.property(await driver.find('[data-testid="loaded-name"]'), "textContent"), "SmolLM2-135M-Instruct.Q4_1.gguf");

    // A conversation with a cap on reply length, set in its settings panel.
    await driver.click(await driver.find('[data-testid="new-chat"]'));
    await driver.click(await driver.waitFor('[data-testid="chat-settings-button"]'));
    const panel = await driver.waitFor('[data-testid="chat-settings"]');
    const max = await driver.findIn(panel, "xpath", ".//label[contains(., 'Max tokens')]/input");
    // Long enough that the reply is still streaming when Stop is pressed, after the screenshot (at
    // 130 tok/s a 200-token poem ended first once, and the Stop button was gone).
    await driver.cmd("POST", `/element/${max}/value`, { text: "1500" });
    // A fixed seed: the same reply every run (one that counts for a long while).
    const seed = await driver.findIn(panel, "xpath", ".//label[contains(., 'Seed')]/input");
    await driver.cmd("POST", `/element/${seed}/value`, { text: "7" });
    await driver.click(await driver.findIn(panel, "xpath", ".//button[text()='Save']"));

    const composer = await driver.find('[data-testid="composer"]');
    await driver.cmd("POST", `/element/${composer}/value`, { text: "Count from 1 to 500, one number per line.\uE007" });
    // Tokens arrive one after another: the reply is seen growing, in several steps.
    const lengths = new Set();
    await until(async () => {
      const m = await last();
      if (m?.role === "assistant" && m.state === "streaming" && m.text.length > 0) lengths.add(m.text.length);
      return lengths.size >= 4;
    }, 60_000, "the reply to grow");
    await saveScreenshot(driver, "chat-streaming");
    await driver.click(await driver.find('[data-testid="stop"]'));
    const stopped = await until(async () => ((await last())?.state === "stopped" ? last() : null), 20_000, "the reply to stop");
    assert.ok(stopped.text.length > 0, "a stopped reply keeps its text");

    // Regenerate writes a new reply in its place.
    await driver.click(await driver.waitFor('[data-testid="regenerate"]'));
    await until(async () => ["done", "stopped"].includes((await last())?.state) && (await messages()).length === 2 && (await driver.findAll('[data-testid="send"]')).length === 1, 90_000, "the regenerated reply");
    const stats = await driver.text(await driver.find('[data-testid="reply-stats"]'));
    assert.match(stats, /tok\/s · [\d.]+ s to first token · \d+ tokens/);

    // Edit the message and send it again: the old reply goes, a new one comes.
    const userMsg = (await driver.findAll('[data-testid="message"]'))[0];
    // A long reply has scrolled the message out of view (and off-screen messages skip layout):
    // bring it back, as a person would, before pressing Edit.
    await driver.execute(`document.querySelector('[data-testid="message"]').scrollIntoView({ block: "center" })`);
    await sleep(200);
    await driver.click(await driver.findIn(userMsg, "xpath", ".//button[text()='Edit']"));
    const editBox = await driver.waitFor('textarea[aria-label="Edit your message"]');
    await driver.cmd("POST", `/element/${editBox}/clear`, {});
    await driver.cmd("POST", `/element/${editBox}/value`, { text: "Name three colours of the sea." });
    await driver.click(await driver.findIn(userMsg, "xpath", ".//button[text()='Send']"));
    await until(async () => {
      const all = await messages();
      return all.length === 2 && all[0].text.includes("Name three colours") && ["done", "stopped"].includes(all[1].state) && (await driver.findAll('[data-testid="send"]')).length === 1;
    }, 90_000, "the reply to the edited message");
    await saveScreenshot(driver, "chat-done");
    const titles = await Promise.all((await driver.findAll('[data-testid="conversation"] button.title')).map((e) => driver.property(e, "textContent")));
    assert.deepEqual(titles, ["Count from 1 to 500, one number per line."]);
  } finally {
    await app.stop();
  }
});

test("two conversations write at once: switch between them, stop one, both saved", async () => {
  const app = await launchApp({ env: { HF_HUB_CACHE: models } });
  const { driver } = app;
  const replies = async () =>
    (await driver.readAll('[data-testid="message"]', ["data-role", "data-state"]))
      .filter((e) => e["data-role"] === "assistant")
      .map((e) => ({ state: e["data-state"], text: e.text }));
  const reply = async () => (await replies()).at(-1);
  const conversations = async () => driver.findAll('[data-testid="conversation"] button.title');
  const titled = async (words) => {
    for (const c of await conversations()) if ((await driver.property(c, "textContent")).includes(words)) return c;
    return null;
  };
  const writing = async () => (await driver.findAll('[data-testid="conversation-writing"]')).length;
  // A new conversation set to greedy decoding (the test model's greedy story runs past 1500
  // tokens), capped at 1500 tokens, then the question.
  const ask = async (text) => {
    const panel = await newGreedyChat(driver, 1500);
    await driver.click(await driver.findIn(panel, "xpath", ".//button[text()='Save']"));
    const composer = await driver.waitFor('[data-testid="composer"]');
    await driver.cmd("POST", `/element/${composer}/value`, { text: `${text}\uE007` });
  };
  try {
    await driver.click(await driver.waitFor('[data-testid="nav-chat"]'));
    await driver.click(await driver.waitFor('[data-testid="load-model"]'));
    await driver.waitFor('[data-testid="model-loaded"]', 60_000);
    // The planner gave the model slots: replies written at once.
    const slots = await driver.property(await driver.waitFor('[data-testid="loaded-slots"]'), "textContent");
    assert.match(slots, /× [2-9]\d* slots/);

    await ask("Write a long story about a dragon.");
    await until(async () => (await reply())?.state === "streaming" && (await reply()).text.length > 20, 60_000, "the first reply to stream").catch(async (e) => {
      await saveScreenshot(driver, "chat-two-streams-failed");
      console.log(JSON.stringify(await driver.readAll('[data-testid="message"]', ["data-role", "data-state"])));
      throw e;
    });
    await ask("Write a very long essay about the history of Rome.");
    await until(async () => (await reply())?.state === "streaming" && (await reply()).text.length > 20, 60_000, "the second reply to stream");
    assert.equal(await writing(), 2, "both conversations are writing");
    await saveScreenshot(driver, "chat-two-streams");

    // Back to the first: it went on writing meanwhile; Stop stops it alone.
    await driver.click(await titled("dragon"));
    const before = (await until(reply, 10_000, "the first reply")).text.length;
    await until(async () => (await reply()).text.length > before, 20_000, "the first reply to keep growing");
    await driver.click(await driver.find('[data-testid="stop"]'));
    const stopped = await until(async () => ((await reply())?.state === "stopped" ? reply() : null), 20_000, "the first reply to stop");
    assert.ok(stopped.text.length > 40, "the stopped reply keeps what it wrote");
    assert.equal(await writing(), 1, "the other conversation is still writing");

    // The second ran on; stop it too, and both are saved with their text.
    await driver.click(await titled("Rome"));
    await until(async () => (await reply())?.state === "streaming", 10_000, "the second reply still streaming");
    await driver.click(await driver.find('[data-testid="stop"]'));
    const second = await until(async () => ((await reply())?.state === "stopped" ? reply() : null), 20_000, "the second reply to stop");
    assert.ok(second.text.length > 40, second.text.slice(0, 80));
    await driver.click(await titled("dragon"));
    await until(async () => (await reply())?.state === "stopped" && (await reply()).text === stopped.text, 10_000, "the first conversation as saved");
    assert.equal(await writing(), 0);
  } finally {
    await app.stop();
  }
});
