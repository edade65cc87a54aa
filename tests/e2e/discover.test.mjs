// Discover in the real window, against the mock Hub: search, open a model, see every file coloured
// for this machine from its remote header, with the recommended one marked.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { launchApp, saveScreenshot, startMockHub } from "./lib/app.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test("search the Hub, open a model, see what fits before downloading", async () => {
  // 6 MB/s per connection: the 98 MB test model takes a few seconds, long enough to watch.
  const hub = await startMockHub({ throttle: 6 << 20 });
  const app = await launchApp({ env: { HF_ENDPOINT: hub.url } });
  const { driver } = app;
  try {
    await driver.click(await driver.waitFor('[data-testid="nav-discover"]'));
    await driver.waitFor('[data-testid="discover-result"]');
    const names = async () => Promise.all((await driver.findAll('[data-testid="discover-result"]')).map((e) => driver.text(e)));
    assert.ok((await names()).length >= 5);

    // Type a query: the list narrows to matching models, most downloaded first.
    const box = await driver.find('[data-testid="discover-search"]');
    await driver.cmd("POST", `/element/${box}/value`, { text: "llama" });
    let hits = [];
    for (const deadline = Date.now() + 10_000; Date.now() < deadline; await sleep(100)) {
      hits = await names();
      if (hits.length === 2) break;
    }
    assert.equal(hits.length, 2, `results: ${hits}`);
    assert.match(hits[0], /Meta-Llama-3\.1-8B-Instruct-GGUF/);
    await saveScreenshot(driver, "discover");

    // Open the 8B: three files, each planned from its header.
    await driver.click((await driver.findAll('[data-testid="discover-result"]'))[0]);
    await driver.waitFor('[data-testid="model-title"]');
    let verdicts = [];
    for (const deadline = Date.now() + 20_000; Date.now() < deadline; await sleep(200)) {
      verdicts = await Promise.all((await driver.findAll('[data-testid="file-fit"]')).map((e) => driver.attribute(e, "data-verdict")));
      if (verdicts.length === 3 && verdicts.every((v) => v)) break;
    }
    assert.equal(verdicts.length, 3);
    assert.ok(verdicts.every((v) => ["green", "yellow", "red"].includes(v)), `verdicts: ${verdicts}`);
    // On this machine (24 GB, no GPU) an 8B fits in RAM at Q4_K_M.
    assert.equal(verdicts[0], "green");
    await driver.waitFor('[data-testid="recommended"]');
    const card = await driver.find('[data-testid="model-card"]');
    assert.match(await driver.text(card), /GGUF quantizations of Llama 3\.1 8B/);
    await saveScreenshot(driver, "discover-model");

    // Download the real test model with one click, watch it in Downloads, find it verified on disk.
    await driver.click(await driver.find(".back"));
    const search = await driver.waitFor('[data-testid="discover-search"]');
    await driver.cmd("POST", `/element/${search}/clear`, {});
    await driver.cmd("POST", `/element/${search}/value`, { text: "smol" });
    for (const deadline = Date.now() + 10_000; Date.now() < deadline; await sleep(100)) {
      const n = await names();
      if (n.length === 1 && /SmolLM2/.test(n[0])) break;
    }
    await driver.click((await driver.findAll('[data-testid="discover-result"]'))[0]);
    await driver.click(await driver.waitFor('[data-testid="download-button"]'));
    await driver.click(await driver.find('[data-testid="nav-downloads"]'));
    const row = await driver.waitFor('[data-testid="download"]');
    let state = "";
    for (const deadline = Date.now() + 20_000; Date.now() < deadline; await sleep(100)) {
      state = await driver.attribute(row, "data-state");
      const shown = await driver.text(await driver.find('[data-testid="download-progress"]'));
      if (state === "running" && !shown.startsWith("0 MB")) break;
    }
    assert.equal(state, "running");
    await driver.waitFor('[data-testid="downloads-indicator"]');
    await saveScreenshot(driver, "downloads-in-flight");
    for (const deadline = Date.now() + 90_000; Date.now() < deadline; await sleep(250)) {
      state = await driver.attribute(await driver.find('[data-testid="download"]'), "data-state");
      if (state === "done" || state === "failed") break;
    }
    assert.equal(state, "done");
    await saveScreenshot(driver, "downloads-done");
    const file = join(app.home, "models/HuggingFaceTB/SmolLM2-135M-Instruct-GGUF/SmolLM2-135M-Instruct.Q4_1.gguf");
    const sha = createHash("sha256").update(readFileSync(file)).digest("hex");
    assert.equal(sha, "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53");
  } finally {
    await app.stop();
    hub.stop();
  }
});
