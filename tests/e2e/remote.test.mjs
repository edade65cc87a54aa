// Chat with a model on another machine, in the real window. The other machine is a second `hearth
// serve` (the one binary, headless, as on a rented GPU box) on loopback with an API key, serving the
// real test model; with HEARTH_E2E_LLAMA_SERVER set to a llama-server binary (llama.cpp's own server,
// which stands in for vLLM: tests/bench/memory.sh builds one), that serves it instead. The window
// has no model of its own.
//
// Settings → Connections: a wrong key gives its sentence; the right one lists the model. Chat's
// picker offers it under the connection's name, marked remote; a reply streams with its figures;
// Stop stops it; My Models lists it as remote; and when the other machine stops, sending says so
// and keeps the message. Screenshots: settings-connections.png, chat-remote.png, models-remote.png.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, launchApp, root, saveScreenshot, until } from "./lib/app.mjs";

const models = process.env.HEARTH_TEST_MODELS ?? join(homedir(), ".cache/hearth/test-models");
const testModel = join(models, "SmolLM2-135M-Instruct.Q4_1.gguf");
const KEY = "sk-gpu-box-2f9c41d07be3";

/** The other machine: `hearth serve` with a key (or llama-server); { url, model, what, stop() }. */
async function otherMachine() {
  const llamaServer = process.env.HEARTH_E2E_LLAMA_SERVER;
  const home = mkdtempSync(join(tmpdir(), "hearth-e2e-remote-"));
  const port = await freePort();
  const [bin, args, what] = llamaServer
    ? [llamaServer, ["-m", testModel, "--api-key", KEY, "--host", "127.0.0.1", "--port", String(port), "-c", "4096", "-np", "1"], "llama-server"]
    : [join(root, "target/debug/hearth"), ["serve", "--port", String(port), "--api-key", KEY, "--model", testModel], "hearth serve"];
  const child = spawn(bin, args, { env: { ...process.env, HEARTH_HOME: home, HEARTH_NO_KEYCHAIN: "1" }, stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  child.stdout.on("data", (d) => (log += d));
  child.stderr.on("data", (d) => (log += d));
  const url = `http://127.0.0.1:${port}`;
  // Ready when it lists its models to a client with the key.
  const model = await until(async () => {
    const r = await fetch(`${url}/v1/models`, { headers: { Authorization: `Bearer ${KEY}` } });
    if (!r.ok) return null;
    const body = await r.json();
    return body.data?.[0]?.id ?? null;
  }, 120_000, `${what} to answer (${log})`);
  return {
    url,
    model,
    what,
    stop: async () => {
      child.kill("SIGTERM");
      await new Promise((r) => (child.exitCode !== null ? r() : child.on("exit", r)));
      rmSync(home, { recursive: true, force: true });
    },
  };
}

test("chat with a model on another machine through a connection", async () => {
  const remote = await otherMachine();
  const app = await launchApp();
  const { driver } = app;
  const messages = async () =>
    (await driver.readAll('[data-testid="message"]', ["data-role", "data-state"])).map((e) => ({ role: e["data-role"], state: e["data-state"], text: e.text }));
  const last = async () => (await messages()).at(-1);
  const type = async (testid, text) => {
    const el = await driver.find(`[data-testid="${testid}"]`);
    await driver.cmd("POST", `/element/${el}/clear`, {});
    await driver.cmd("POST", `/element/${el}/value`, { text });
  };
  const status = async () => driver.property(await driver.waitFor('[data-testid="connection-status"]'), "textContent");
  try {
    // Settings → Connections: first with a wrong key.
    await driver.click(await driver.waitFor('[data-testid="nav-settings"]'));
    await driver.waitFor('[data-testid="connection-form"]');
    await type("connection-name", "GPU box");
    await type("connection-url", `${remote.url}/v1`);
    await type("connection-key", "sk-not-the-key-000000");
    await driver.click(await driver.find('[data-testid="connection-save"]'));
    await until(async () => /refused the key \(HTTP 401\)/.test(await status()), 20_000, "the wrong key's sentence");
    const notice = await driver.property(await driver.find('[data-testid="connections-notice"]'), "textContent");
    assert.match(notice, /Saved GPU box, but it did not answer: GPU box refused the key \(HTTP 401\)/);

    // The right key: the connection lists the model.
    await driver.click(await driver.findIn(await driver.find('[data-testid="connection"]'), "xpath", ".//button[text()='Edit']"));
    await type("connection-key", KEY);
    await driver.click(await driver.find('[data-testid="connection-save"]'));
    await until(async () => (await status()).startsWith("1 model: "), 20_000, "the connection's model");
    const listed = await driver.property(await driver.find('[data-testid="connection"]'), "textContent");
    assert.ok(listed.includes(remote.url) && listed.includes("…") && !listed.includes(KEY), `the key is hinted, never shown: ${listed}`);
    await driver.execute(`document.querySelector('[data-testid="connections"]').scrollIntoView({ block: "start" })`);
    await saveScreenshot(driver, "settings-connections");

    // My Models lists it, marked remote, with where it runs.
    await driver.click(await driver.find('[data-testid="nav-models"]'));
    const row = await driver.waitFor('[data-testid="remote-model"]', 20_000);
    const rowText = await driver.property(row, "textContent");
    assert.ok(rowText.includes(remote.model) && rowText.includes("Remote") && rowText.includes(`on GPU box · ${remote.url}`), rowText);
    await saveScreenshot(driver, "models-remote");

    // Chat: the picker offers it under the connection; Use checks it is still there.
    await driver.click(await driver.find('[data-testid="nav-chat"]'));
    const option = await driver.waitFor('[data-testid="model-select"] option[value^="remote:"]', 20_000);
    assert.equal(await driver.property(option, "textContent"), remote.model);
    await driver.click(option);
    await driver.click(await driver.waitFor('[data-testid="use-remote"]'));
    const loaded = await driver.property(await driver.waitFor('[data-testid="remote-loaded"]', 20_000), "textContent");
    assert.ok(loaded.includes("remote") && loaded.includes(`on GPU box · ${remote.url}`), loaded);

    // A reply streams from the other machine, with figures measured here. The conversation caps its
    // replies and fixes a seed: a reply sampled at random with no cap once ran on past the wait (the
    // test model can write until the other machine's context is full, thousands of tokens), and
    // the cap still leaves the long reply below streaming when Stop is pressed.
    await driver.click(await driver.find('[data-testid="new-chat"]'));
    await driver.click(await driver.waitFor('[data-testid="chat-settings-button"]'));
    const panel = await driver.waitFor('[data-testid="chat-settings"]');
    for (const [label, value] of [["Max tokens", "400"], ["Seed", "7"]]) {
      const input = await driver.findIn(panel, "xpath", `.//label[contains(., '${label}')]/input`);
      await driver.cmd("POST", `/element/${input}/value`, { text: value });
    }
    await driver.click(await driver.findIn(panel, "xpath", ".//button[text()='Save']"));
    const composer = await driver.waitFor('[data-testid="composer"]');
    await driver.cmd("POST", `/element/${composer}/value`, { text: "What is the capital of France?\uE007" });
    await until(async () => ["done", "stopped"].includes((await last())?.state) && (await messages()).length === 2, 90_000, "the remote reply");
    assert.ok((await last()).text.length > 0);
    const stats = await driver.text(await driver.find('[data-testid="reply-stats"]'));
    assert.match(stats, /tok\/s · [\d.]+ s to first token · \d+ tokens/);
    await saveScreenshot(driver, "chat-remote");

    // Stop stops a long one, keeping its text.
    await driver.cmd("POST", `/element/${composer}/value`, { text: "Count from 1 to 500, one number per line.\uE007" });
    await until(async () => (await last())?.state === "streaming" && (await last()).text.length > 10, 60_000, "the long reply to stream");
    await driver.click(await driver.find('[data-testid="stop"]'));
    const stopped = await until(async () => ((await last())?.state === "stopped" ? last() : null), 20_000, "the reply to stop");
    assert.ok(stopped.text.length > 10);

    // The other machine stops: sending says so, and the message is kept.
    await remote.stop();
    await until(async () => (await driver.findAll('[data-testid="send"]')).length === 1, 10_000, "the composer to be ready");
    await driver.cmd("POST", `/element/${composer}/value`, { text: "Are you still there?\uE007" });
    const failed = await until(async () => ((await last())?.state === "failed" ? last() : null), 30_000, "the reply to fail");
    assert.match(failed.text, new RegExp(`GPU box did not answer at ${remote.url.replace(/\./g, "\\.")}\\. Is its server running`));
    const all = await messages();
    assert.ok(all.at(-2).role === "user" && all.at(-2).text.startsWith("Are you still there?"), JSON.stringify(all.at(-2)));
    console.log(`remote e2e against ${remote.what}: ok`);
  } finally {
    await app.stop();
    await remote.stop().catch(() => {});
  }
});
