// Tools in the real window (issue 31): the reference MCP filesystem server (npm, pinned;
// tests/setup/mcp-servers.sh) on a temporary folder, in the home's mcp.json. Settings shows it
// ready with its tools; a conversation ticks it and holds the test model's first answer to a call
// (the model is too small to call tools of its own accord); the call waits for the person: Deny →
// not run; Allow once → run, its result folded in the reply; Always allow → remembered across a
// restart. No server process is left once the app has gone. Screenshots of each step.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { launchApp, newGreedyChat, saveScreenshot, until } from "./lib/app.mjs";

const models = process.env.HEARTH_TEST_MODELS ?? join(homedir(), ".cache/hearth/test-models");
const servers = process.env.HEARTH_TEST_MCP ?? join(homedir(), ".cache/hearth/mcp-servers");
const filesystem = join(servers, "node_modules/@modelcontextprotocol/server-filesystem/dist/index.js");

/** Processes whose command line holds `marker`. */
function running(marker) {
  try {
    return execFileSync("pgrep", ["-f", marker], { encoding: "utf8" }).trim().split("\n").filter(Boolean);
  } catch {
    return [];
  }
}

test("a tool call waits for the person: deny, allow once, always allow (kept across a restart)", async () => {
  const home = mkdtempSync(join(tmpdir(), "hearth-e2e-mcp-"));
  const notes = join(home, "notes-for-the-mcp-test");
  mkdirSync(notes);
  writeFileSync(join(notes, "todo.md"), "- milk\n- bread\n");
  writeFileSync(join(home, "mcp.json"), JSON.stringify({ mcpServers: { files: { command: "node", args: [filesystem, notes] } } }, null, 2));
  const env = { HF_HUB_CACHE: models };
  let app = await launchApp({ env, home });
  let { driver } = app;
  // The state of each reply's first call (the one the conversation holds the model to). A small
  // model may call again of its own accord after it, and its words are not the same on every CPU:
  // such further calls are denied as they come (`replyDone`), and not counted.
  const firstCalls = async () =>
    driver.execute(
      `return [...document.querySelectorAll('[data-testid="message"][data-role="assistant"]')]
        .map((r) => r.querySelector('[data-testid="tool-call"]')?.getAttribute("data-state") ?? null)`,
    );
  const lastCall = async () => ({ "data-state": (await firstCalls()).at(-1) ?? null });
  const replyDone = async (n) => {
    await driver.execute(
      `for (const r of document.querySelectorAll('[data-testid="message"][data-role="assistant"]'))
        for (const c of [...r.querySelectorAll('[data-testid="tool-call"][data-state="waiting"]')].filter((c, i) => c !== r.querySelector('[data-testid="tool-call"]')))
          c.querySelector('[data-testid="tool-deny"]')?.click();`,
    );
    const replies = (await driver.readAll('[data-testid="message"]', ["data-role", "data-state"])).filter((m) => m["data-role"] === "assistant");
    return replies.length === n && ["done", "stopped"].includes(replies.at(-1)["data-state"]);
  };
  const send = async (text) => {
    const composer = await driver.waitFor('[data-testid="composer"]');
    await driver.cmd("POST", `/element/${composer}/value`, { text: `${text}\uE007` });
  };
  try {
    // Settings → Tools: the server is ready, with its tools, and its command as it runs.
    await driver.click(await driver.waitFor('[data-testid="nav-settings"]'));
    await until(async () => (await driver.readAll('[data-testid="mcp-server"]', ["data-state"]))[0]?.["data-state"] === "ready", 60_000, "the MCP server to be ready");
    const server = (await driver.readAll('[data-testid="mcp-server"]', ["data-state"]))[0];
    assert.match(server.text, /files\s+ready · \d+ tools/);
    await driver.execute(`document.querySelector('[data-testid="mcp-settings"]').scrollIntoView({ block: "start" })`);
    await saveScreenshot(driver, "settings-tools");

    // Chat: the test model, a conversation that uses the server and calls its tool first.
    await driver.click(await driver.waitFor('[data-testid="nav-chat"]'));
    await driver.click(await driver.waitFor('[data-testid="load-model"]'));
    await driver.waitFor('[data-testid="model-loaded"]', 60_000);
    const panel = await newGreedyChat(driver, 40);
    await driver.click(await driver.waitFor('[data-testid="tool-server"]'));
    const force = await driver.waitFor('[data-testid="tool-force"]');
    await driver.click(await driver.findIn(force, "css selector", 'option[value="list_allowed_directories"]'));
    await driver.click(await driver.findIn(panel, "xpath", ".//button[text()='Save']"));
    // The test model's template has no place for tools, and the chat says so.
    assert.match(await driver.text(await driver.waitFor('[data-testid="no-tools-note"]')), /no place for tools/);

    // Deny: the call is not run, and the reply goes on without it.
    await send("Which folders can you read?");
    await until(async () => (await lastCall())?.["data-state"] === "waiting", 60_000, "the call to wait for the person");
    await saveScreenshot(driver, "chat-tool-waiting");
    await driver.click(await driver.find('[data-testid="tool-deny"]'));
    await until(() => replyDone(1), 60_000, "the reply after the denial");
    assert.equal((await lastCall())["data-state"], "denied");

    // Allow once: run, and its result (the folder) folded into the reply.
    await send("Please try again.");
    await until(async () => (await firstCalls()).length === 2 && (await lastCall())["data-state"] === "waiting", 60_000, "the second call to wait");
    await driver.click(await driver.find('[data-testid="tool-allow"]'));
    await until(() => replyDone(2), 60_000, "the reply after the call ran");
    assert.equal((await lastCall())["data-state"], "done");
    const results = await driver.findAll('[data-testid="tool-result"]');
    const result = results.at(-1);
    await driver.click(await driver.findIn(result, "css selector", "summary"));
    assert.ok((await driver.property(result, "textContent")).includes(notes), "the folder the server allows is the result");
    await saveScreenshot(driver, "chat-tool-result");

    // Always allow: remembered.
    await send("Once more.");
    await until(async () => (await firstCalls()).length === 3 && (await lastCall())["data-state"] === "waiting", 60_000, "the third call to wait");
    await driver.click(await driver.find('[data-testid="tool-always"]'));
    await until(() => replyDone(3), 60_000, "the reply after always allow");
  } finally {
    await app.stop();
  }
  // The app has gone, and its MCP server with it.
  await until(async () => running(notes).length === 0, 15_000, "the MCP server to stop with the app");

  // After a restart: the answer is still there, and so are the conversation's calls.
  app = await launchApp({ env, home });
  driver = app.driver;
  try {
    await driver.click(await driver.waitFor('[data-testid="nav-settings"]'));
    const settings = await driver.waitFor('[data-testid="mcp-settings"]');
    await until(async () => (await driver.property(settings, "textContent")).includes("files › list_allowed_directories"), 30_000, "always allow to be listed");
    await driver.click(await driver.waitFor('[data-testid="nav-chat"]'));
    await driver.click(await driver.waitFor('[data-testid="conversation"] button.title'));
    await until(async () => (await firstCalls()).join() === "denied,done,done", 30_000, "the calls to be there after the restart");
  } finally {
    await app.stop();
    rmSync(home, { recursive: true, force: true });
  }
});
