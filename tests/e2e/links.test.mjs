// Links never take over the window (issue 13, item 4), in the real window: a link clicked in a reply
// or in a model card goes to the person's browser (here, the app's test hook records it instead) and
// the window stays on the app; a script cannot navigate the window away nor open another one.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { launchApp, saveScreenshot, startMockHub } from "./lib/app.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** What the app handed to the opener so far, one address a line. */
const opened = (log) => (existsSync(log) ? readFileSync(log, "utf8").split("\n").filter(Boolean) : []);

async function waitOpened(log, count) {
  for (const deadline = Date.now() + 10_000; Date.now() < deadline && opened(log).length < count; ) await sleep(100);
  return opened(log);
}

/** A finished conversation whose reply holds links, written into the app's database as Chat would
 * have saved it (a 135M model will not write a given link on demand). */
function craftConversation(home, reply) {
  const script = `
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], timeout=10)
t = int(time.time())
c = db.execute("INSERT INTO conversations (title, settings, created_at, updated_at) VALUES ('Links', '{}', ?, ?)", (t, t)).lastrowid
db.execute("INSERT INTO messages (conversation_id, role, content, status, created_at) VALUES (?, 'user', 'Where is the model page?', 'done', ?)", (c, t))
db.execute("INSERT INTO messages (conversation_id, role, content, status, created_at) VALUES (?, 'assistant', ?, 'done', ?)", (c, sys.argv[2], t))
db.commit()
`;
  const r = spawnSync("python3", ["-c", script, join(home, "hearth.sqlite3"), reply], { encoding: "utf8" });
  assert.equal(r.status, 0, `writing the conversation failed: ${r.stderr}`);
}

test("links open in the browser, never in the window", async () => {
  const hub = await startMockHub();
  const log = join(mkdtempSync(join(tmpdir(), "hearth-e2e-opener-")), "opened.txt");
  const app = await launchApp({ env: { HF_ENDPOINT: hub.url, HEARTH_TEST_OPENER_LOG: log } });
  const { driver } = app;
  const url = () => driver.cmd("GET", "/url");
  try {
    await driver.waitFor('[data-testid="nav-chat"]');
    const home = await url();
    assert.match(home, /^(tauri:\/\/localhost|https?:\/\/tauri\.localhost)(\/|$)/, `the app's own address: ${home}`);

    // A reply with a link to a real server (the mock Hub): followed in the window, it would load.
    const target = `${hub.url}/HuggingFaceTB/SmolLM2-135M-Instruct-GGUF`;
    craftConversation(app.home, `The model page is [here](${target}). Not [this one](javascript:alert(1)), nor [that](file:///etc/passwd).`);
    await driver.click(await driver.find('[data-testid="nav-chat"]'));
    await driver.click(await driver.findIn(await driver.waitFor('[data-testid="conversation"]'), "css selector", "button.title"));
    const reply = await driver.waitFor('[data-testid="reply"] a');
    assert.equal(await driver.attribute(reply, "href"), target);
    await driver.click(reply);
    assert.deepEqual(await waitOpened(log, 1), [target], "the reply's link went to the opener");
    assert.equal(await url(), home, "the window stayed on the app");
    // The links with other schemes open nothing and go nowhere.
    for (const text of ["this one", "that"]) {
      await driver.click(await driver.findIn(await driver.find('[data-testid="reply"]'), "xpath", `.//a[text()='${text}']`));
    }
    await sleep(500);
    assert.deepEqual(opened(log), [target]);
    assert.equal(await url(), home);
    await driver.waitFor('[data-testid="chat-view"]');
    await saveScreenshot(driver, "links-reply");

    // A model card's link, from the mock Hub's card.
    await driver.click(await driver.find('[data-testid="nav-discover"]'));
    const search = await driver.waitFor('[data-testid="discover-search"]');
    await driver.cmd("POST", `/element/${search}/value`, { text: "135M-Instruct" });
    for (const deadline = Date.now() + 10_000; Date.now() < deadline; await sleep(100)) {
      if ((await driver.findAll('[data-testid="discover-result"]')).length === 1) break;
    }
    await driver.click((await driver.findAll('[data-testid="discover-result"]'))[0]);
    const cardLink = await driver.waitFor('[data-testid="model-card"] a');
    await driver.click(cardLink);
    assert.deepEqual(await waitOpened(log, 2), [target, "https://huggingface.co/HuggingFaceTB/SmolLM2-135M-Instruct"]);
    assert.equal(await url(), home, "the window stayed on the app");
    await driver.waitFor('[data-testid="model-title"]');
    await saveScreenshot(driver, "links-card");

    // A script cannot take the window elsewhere, nor open a second window, and the opener is not
    // asked: only clicks open links.
    const before = await driver.cmd("GET", "/window/handles");
    await driver.execute(`window.location.href = ${JSON.stringify(`${hub.url}/api/models`)};`);
    await sleep(1500);
    assert.equal(await url(), home, "a scripted navigation was refused");
    assert.equal(await driver.execute("return window.open(arguments[0]);", [target]), null, "window.open gave no window");
    await sleep(1000);
    assert.deepEqual(await driver.cmd("GET", "/window/handles"), before, "no second window");
    assert.equal(opened(log).length, 2);
    // Still the app, and still working.
    await driver.click(await driver.find('[data-testid="nav-chat"]'));
    await driver.waitFor('[data-testid="chat-view"]');
    await saveScreenshot(driver, "links-after");
  } finally {
    await app.stop();
    hub.stop();
    rmSync(join(log, ".."), { recursive: true, force: true });
  }
});
