// Discover in the real window, against the mock Hub: search, open a model, see every file coloured
// for this machine from its remote header, with the recommended one marked.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { launchApp, root, saveScreenshot, startMockHub } from "./lib/app.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test("search the Hub, open a model, see what fits before downloading", async () => {
  // 6 MB/s per connection: the 98 MB test model takes a few seconds, long enough to watch.
  const hub = await startMockHub({ throttle: 6 << 20 });
  // A Hugging Face cache holding two large synthetic models (sparse copies), for My Models to find.
  const hfCache = join(hub.dir, "hf-cache/models--bartowski--big/snapshots/abc");
  mkdirSync(hfCache, { recursive: true });
  for (const f of ["Meta-Llama-3.1-70B-Instruct-Q4_K_M.gguf", "Qwen2.5-7B-Instruct-Q4_K_M.gguf"]) {
    spawnSync("cp", ["--sparse=always", join(hub.dir, f), join(hfCache, f)]);
  }
  // One RAM bandwidth for the window and the `hearth ls` compared with it below: each process
  // measures its own and keeps the highest, and speed is part of a verdict (green from 5 tok/s), so
  // a 7B on this CPU could be green in one and yellow in the other. The Hardware test shows this
  // machine's own figures.
  const home = mkdtempSync(join(tmpdir(), "hearth-e2e-"));
  writeFileSync(join(home, "ram-bandwidth"), "1000\n");
  const app = await launchApp({ home, env: { HF_ENDPOINT: hub.url, HF_HUB_CACHE: join(hub.dir, "hf-cache") } });
  const { driver } = app;
  try {
    await driver.click(await driver.waitFor('[data-testid="nav-discover"]'));
    await driver.waitFor('[data-testid="discover-result"]');
    const names = async () => (await driver.readAll('[data-testid="discover-result"]')).map((e) => e.text);
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
      verdicts = (await driver.readAll('[data-testid="file-fit"]', ["data-verdict"])).map((e) => e["data-verdict"]);
      if (verdicts.length === 3 && verdicts.every((v) => v)) break;
    }
    assert.equal(verdicts.length, 3);
    assert.ok(verdicts.every((v) => ["green", "yellow", "red"].includes(v)), `verdicts: ${verdicts}`);
    // On this machine (24 GB, no GPU) an 8B fits in RAM at Q4_K_M: green where the RAM is fast
    // enough for 5 tok/s, else yellow "slow".
    assert.ok(["green", "yellow"].includes(verdicts[0]), `verdicts: ${verdicts}`);
    await driver.waitFor('[data-testid="recommended"]');
    const card = await driver.find('[data-testid="model-card"]');
    assert.match(await driver.text(card), /GGUF quantizations of Llama 3\.1 8B/);
    await saveScreenshot(driver, "discover-model");

    // Download the real test model with one click, watch it in Downloads, find it verified on disk.
    await driver.click(await driver.find(".back"));
    const search = await driver.waitFor('[data-testid="discover-search"]');
    await driver.cmd("POST", `/element/${search}/clear`, {});
    await driver.cmd("POST", `/element/${search}/value`, { text: "135M-Instruct" });
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

    assert.match(await driver.text(await driver.find('[data-testid="download-progress"]')), /verified/);

    // My Models (from the finished download's button): the download first, green, then the Hugging
    // Face cache's files with their own fit.
    await driver.click(await driver.find('[data-testid="download-show"]'));
    let rows = [];
    for (const deadline = Date.now() + 20_000; Date.now() < deadline; await sleep(200)) {
      rows = (await driver.readAll('[data-testid="local-model"]', ["data-file", "data-verdict"])).map((e) => [e["data-file"], e["data-verdict"]]);
      if (rows.length === 3) break;
    }
    assert.deepEqual(rows[0], ["SmolLM2-135M-Instruct.Q4_1.gguf", "green"], `rows: ${rows}`);
    const others = new Map(rows.slice(1));
    assert.equal(others.get("Meta-Llama-3.1-70B-Instruct-Q4_K_M.gguf"), "red", `rows: ${rows}`);
    assert.ok(["green", "yellow"].includes(others.get("Qwen2.5-7B-Instruct-Q4_K_M.gguf")), `rows: ${rows}`);
    await saveScreenshot(driver, "models");

    // One Hearth: `hearth ls --json` on the same home and folders lists the same files with the
    // same verdicts as the window's My Models.
    const ls = spawnSync(join(root, "target/debug/hearth"), ["ls", "--json"], {
      env: { ...process.env, HEARTH_HOME: app.home, HEARTH_NO_KEYCHAIN: "1", HF_HUB_CACHE: join(hub.dir, "hf-cache") },
      encoding: "utf8",
    });
    assert.equal(ls.status, 0, ls.stderr);
    const cli = JSON.parse(ls.stdout).map((m) => [m.fileName, m.plan?.verdict ?? "grey"]);
    assert.deepEqual(new Map(cli), new Map(rows), `hearth ls: ${JSON.stringify(cli)}; My Models: ${JSON.stringify(rows)}`);

    // The red 70B: what would run it, cheapest first, with prices and speed.
    const bigRow = [];
    for (const e of await driver.findAll('[data-testid="local-model"]')) {
      if ((await driver.attribute(e, "data-file")) === "Meta-Llama-3.1-70B-Instruct-Q4_K_M.gguf") bigRow.push(e);
    }
    assert.equal(bigRow.length, 1);
    await driver.click(await driver.findIn(bigRow[0], "css selector", '[data-testid="advise"]'));
    await driver.waitFor('[data-testid="advice-option"]', 20_000);
    const options = await driver.readAll('[data-testid="advice-option"]', ["data-kind"]);
    assert.ok(options.some((o) => o["data-kind"] === "buy") && options.some((o) => o["data-kind"] === "rent"), JSON.stringify(options));
    assert.ok(options.some((o) => /2 × RTX 3090/.test(o.text)), "two 24 GB cards run a 70B at Q4");
    assert.ok(options.some((o) => /an hour · \$[\d.]+ per million tokens/.test(o.text)), "rentals say what they cost");
    await driver.execute(`document.querySelector('[data-testid="advice"]').scrollIntoView({ block: "start" })`);
    await sleep(200);
    await saveScreenshot(driver, "models-advice");
    await driver.click(await driver.findIn(bigRow[0], "css selector", '[data-testid="advise"]'));

    // Delete the download, after the confirmation: gone from disk and from the list.
    const first = (await driver.findAll('[data-testid="local-model"]'))[0];
    await driver.click(await driver.findIn(first, "xpath", ".//button[text()='Delete']"));
    await driver.click(await driver.findIn(first, "css selector", "button.danger"));
    for (const deadline = Date.now() + 10_000; Date.now() < deadline && existsSync(file); ) await sleep(100);
    assert.ok(!existsSync(file), "the downloaded file is deleted");
    for (const deadline = Date.now() + 10_000; Date.now() < deadline; await sleep(100)) {
      if ((await driver.findAll('[data-testid="local-model"]')).length === 2) break;
    }
    assert.equal((await driver.findAll('[data-testid="local-model"]')).length, 2);

    // Settings: a token is saved (in the home here: the tests keep off the keychain) and only its
    // hint is ever shown again.
    await driver.click(await driver.find('[data-testid="nav-settings"]'));
    const tokenBox = await driver.waitFor('[data-testid="hf-token"]');
    await driver.cmd("POST", `/element/${tokenBox}/value`, { text: "hf_e2eTestTokenAbcdWXYZ" });
    await driver.click(await driver.findIn(await driver.find('[data-testid="settings-view"]'), "xpath", ".//button[text()='Save token']"));
    const status = await driver.waitFor('[data-testid="token-status"]');
    assert.match(await driver.text(status), /hf_…WXYZ/);
    assert.ok(!(await driver.text(await driver.find('[data-testid="settings-view"]'))).includes("e2eTestToken"));
    assert.equal(readFileSync(join(app.home, "secrets/hf-token"), "utf8"), "hf_e2eTestTokenAbcdWXYZ");
    await saveScreenshot(driver, "settings");
  } finally {
    await app.stop();
    hub.stop();
  }
});
