// The Server view in the real window: start the OpenAI-compatible server, call it like a client
// would (the test model loads on request), and see the request in the live log.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { homedir } from "node:os";
import { join } from "node:path";
import { launchApp, saveScreenshot } from "./lib/app.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const models = process.env.HEARTH_TEST_MODELS ?? join(homedir(), ".cache/hearth/test-models");
const freePort = () =>
  new Promise((ok) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });

test("start the server, answer a client, show it in the log", async () => {
  const app = await launchApp({ env: { HF_HUB_CACHE: models } });
  const { driver } = app;
  try {
    await driver.click(await driver.waitFor('[data-testid="nav-server"]'));
    const view = await driver.waitFor('[data-testid="server-view"]');
    assert.equal(await driver.text(await driver.find('[data-testid="server-state"]')), "Stopped");
    const port = await freePort();
    const portBox = await driver.findIn(view, "xpath", ".//label[contains(., 'Port')]/input");
    await driver.cmd("POST", `/element/${portBox}/clear`, {});
    await driver.cmd("POST", `/element/${portBox}/value`, { text: String(port) });
    await driver.click(await driver.find('[data-testid="server-start"]'));
    const url = await driver.text(await driver.waitFor('[data-testid="server-url"]', 30_000));
    assert.equal(url, `http://127.0.0.1:${port}/v1`);

    const list = await (await fetch(`${url}/models`)).json();
    const id = list.data.map((m) => m.id).find((m) => /SmolLM2/.test(m));
    assert.ok(id, JSON.stringify(list));
    const res = await fetch(`${url}/chat/completions`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ model: id, messages: [{ role: "user", content: "Say hello." }], max_tokens: 12, temperature: 0 }),
    });
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.ok(body.choices[0].message.content.length > 0);
    assert.ok(body.usage.completion_tokens > 0 && body.usage.completion_tokens <= 12);

    // An unknown model: OpenAI's error shape, 404.
    const missing = await fetch(`${url}/chat/completions`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ model: "no-such-model", messages: [{ role: "user", content: "hi" }] }),
    });
    assert.equal(missing.status, 404);
    assert.equal((await missing.json()).error.code, "model_not_found");

    let rows = [];
    for (const deadline = Date.now() + 10_000; Date.now() < deadline; await sleep(200)) {
      rows = await driver.findAll('[data-testid="server-log"] tbody tr');
      if (rows.length >= 3) break;
    }
    assert.ok(rows.length >= 3, `log rows: ${rows.length}`);
    assert.match(await driver.text(await driver.find('[data-testid="server-log"]')), /POST \/v1\/chat\/completions/);
    await saveScreenshot(driver, "server");

    await driver.click(await driver.findIn(view, "xpath", ".//button[text()='Stop']"));
    for (const deadline = Date.now() + 10_000; Date.now() < deadline; await sleep(100)) {
      if ((await driver.text(await driver.find('[data-testid="server-state"]'))) === "Stopped") break;
    }
    await assert.rejects(fetch(`${url}/models`), "the server is stopped");
  } finally {
    await app.stop();
  }
});
