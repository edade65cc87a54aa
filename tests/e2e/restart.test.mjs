// A download survives the app being killed: SIGKILL the real app mid-download, start it again on the
// same home folder, and the download carries on from the bytes on disk to the published sha256.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { appPid, launchApp, startMockHub } from "./lib/app.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";

/** The first download row's state and per cent, as the Downloads view shows them. */
async function progress(driver) {
  const row = await driver.find('[data-testid="download"]');
  const state = await driver.attribute(row, "data-state");
  const shown = await driver.text(await driver.find('[data-testid="download-progress"]'));
  // A finished row says "verified" instead of a per cent. Judged from the text alone: the state may
  // have changed between the two reads (a fresh-clone run read "running", then the finished text).
  const percent = /verified/.test(shown) ? 100 : Number(/· (\d+) %/.exec(shown)?.[1] ?? -1);
  return { state, percent };
}

test("a download resumes after the app is killed (SIGKILL) and restarted", async () => {
  // 1 MB/s per connection, 4 connections: the 98 MB model takes about 25 s, so the kill lands mid-way.
  const hub = await startMockHub({ throttle: 1 << 20 });
  const env = { HF_ENDPOINT: hub.url };
  // The test owns the home folder, so stopping the first (killed) app leaves it for the second.
  const home = mkdtempSync(join(tmpdir(), "hearth-e2e-restart-"));
  let app = await launchApp({ env, home });
  try {
    let { driver } = app;
    await driver.click(await driver.waitFor('[data-testid="nav-discover"]'));
    const search = await driver.waitFor('[data-testid="discover-search"]');
    await driver.cmd("POST", `/element/${search}/value`, { text: "135M-Instruct" });
    for (const deadline = Date.now() + 10_000; Date.now() < deadline; await sleep(100)) {
      const rows = await driver.findAll('[data-testid="discover-result"]');
      if (rows.length === 1) break;
    }
    await driver.click((await driver.findAll('[data-testid="discover-result"]'))[0]);
    await driver.click(await driver.waitFor('[data-testid="download-button"]'));
    await driver.click(await driver.find('[data-testid="nav-downloads"]'));
    await driver.waitFor('[data-testid="download"]');
    let before = { state: "", percent: 0 };
    for (const deadline = Date.now() + 30_000; Date.now() < deadline; await sleep(200)) {
      before = await progress(driver);
      if (before.state === "running" && before.percent >= 15) break;
    }
    assert.equal(before.state, "running");
    assert.ok(before.percent >= 15 && before.percent < 90, `killed at ${before.percent} %`);

    const pid = appPid(home);
    assert.ok(pid, "the app's pid");
    process.kill(pid, "SIGKILL");
    await app.stop();

    app = await launchApp({ env, home });
    driver = app.driver;
    await driver.click(await driver.waitFor('[data-testid="nav-downloads"]'));
    await driver.waitFor('[data-testid="download"]');
    // The restarted app resumes on its own, from the bytes on disk: never back at zero.
    const first = await progress(driver);
    // A kill loses at most a checkpoint interval (250 ms) of each connection: 4 × 0.25 s × 1 MB/s
    // is about 1 % of the file, and the shown per cent is rounded down: at most 2 points back.
    // (With 1 s checkpoints the fresh-clone rehearsal once came back 2 points lower, 16 to 14 %.)
    assert.ok(first.percent >= before.percent - 2, `after the restart the download shows ${first.percent} %, before the kill ${before.percent} %`);
    let now = first;
    for (const deadline = Date.now() + 90_000; Date.now() < deadline; await sleep(250)) {
      now = await progress(driver);
      assert.ok(now.percent >= first.percent, `progress went back from ${first.percent} to ${now.percent} %`);
      if (now.state === "done" || now.state === "failed") break;
    }
    assert.equal(now.state, "done");
    const file = join(home, "models/HuggingFaceTB/SmolLM2-135M-Instruct-GGUF/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert.equal(createHash("sha256").update(readFileSync(file)).digest("hex"), SHA256);
  } finally {
    await app.stop();
    rmSync(home, { recursive: true, force: true });
    hub.stop();
  }
});
