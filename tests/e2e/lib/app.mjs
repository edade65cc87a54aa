// Starts the real Hearth window for a test: Xvfb (when there is no display), tauri-driver with
// WebKitWebDriver, and a WebDriver session on the built app binary, with its own HEARTH_HOME.
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir, homedir } from "node:os";
import { join, resolve } from "node:path";
import { createServer } from "node:net";
import { WebDriver } from "./webdriver.mjs";

export const root = resolve(import.meta.dirname, "../../..");
export const appBinary = join(root, "target/debug/hearth-app");
export const screenshotDir = join(root, "target/screenshots");

/** A port nothing listens on now. */
export function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
    s.on("error", fail);
  });
}

/** Polls `f` every 100 ms until it returns something truthy (which it returns), for up to `ms`;
 * then fails naming `what` and the last error `f` threw. */
export async function until(f, ms, what) {
  const deadline = Date.now() + ms;
  let failed = null;
  for (;;) {
    const v = await f().catch((e) => {
      failed = e;
      return null;
    });
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out: ${what}${failed ? ` (last error: ${failed.message})` : ""}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function tauriDriverPath() {
  const local = join(homedir(), ".cargo/bin/tauri-driver");
  return existsSync(local) ? local : "tauri-driver";
}

/** Start everything; returns { driver: WebDriver, home, stop() }. With `home`, the app reuses that
 * home folder (a restart) and `stop()` leaves it for the caller to remove. */
export async function launchApp({ env = {}, home: givenHome = null } = {}) {
  if (!existsSync(appBinary)) throw new Error(`${appBinary} is missing: run \`make build\` first`);
  const children = [];
  const home = givenHome ?? mkdtempSync(join(tmpdir(), "hearth-e2e-"));
  const childEnv = {
    ...process.env,
    HEARTH_HOME: home,
    // Never write into the keychain of the person running the tests; the token goes to the home.
    HEARTH_NO_KEYCHAIN: "1",
    // Nor read their Hugging Face cache or LM Studio folder: tests pass their own.
    HF_HUB_CACHE: join(home, "no-hf-cache"),
    // WebKitGTK on a machine with no GPU: software rendering, no DMA-BUF, so screenshots are not blank.
    WEBKIT_DISABLE_DMABUF_RENDERER: "1",
    WEBKIT_DISABLE_COMPOSITING_MODE: "1",
    LIBGL_ALWAYS_SOFTWARE: "1",
    ...env,
  };

  if (!process.env.DISPLAY) {
    const display = `:${90 + Math.floor(Math.random() * 400)}`;
    const xvfb = spawn("Xvfb", [display, "-screen", "0", "1920x1080x24", "-nolisten", "tcp"], { stdio: "ignore" });
    children.push(xvfb);
    childEnv.DISPLAY = display;
    await new Promise((r) => setTimeout(r, 500));
  }

  const port = await freePort();
  const nativePort = await freePort();
  const driverLog = [];
  const driver = spawn(
    tauriDriverPath(),
    ["--port", String(port), "--native-port", String(nativePort), "--native-driver", "/usr/bin/WebKitWebDriver"],
    { env: childEnv, stdio: ["ignore", "pipe", "pipe"] },
  );
  driver.stdout.on("data", (d) => driverLog.push(String(d)));
  driver.stderr.on("data", (d) => driverLog.push(String(d)));
  children.push(driver);

  const stop = async (session) => {
    if (session) await session.close().catch(() => {});
    for (const c of children.reverse()) c.kill("SIGTERM");
    if (!givenHome) rmSync(home, { recursive: true, force: true });
  };

  try {
    const session = await WebDriver.open(`http://127.0.0.1:${port}`, appBinary);
    return { driver: session, home, driverLog, stop: () => stop(session) };
  } catch (e) {
    await stop();
    throw new Error(`${e.message}\n--- tauri-driver said ---\n${driverLog.join("")}`);
  }
}

/** The pid of the app process running with `home` as its HEARTH_HOME (tauri-driver starts it, so
 * the test does not hold it as a child). */
export function appPid(home) {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (!readFileSync(`/proc/${entry}/cmdline`, "utf8").includes("hearth-app")) continue;
      const environ = readFileSync(`/proc/${entry}/environ`, "utf8").split("\0");
      if (environ.includes(`HEARTH_HOME=${home}`)) return Number(entry);
    } catch {
      // The process ended while we looked.
    }
  }
  return null;
}

/** Start the mock Hub (target/debug/mockhub) with the real test model; returns { url, stop() }. */
export async function startMockHub({ throttle = 0 } = {}) {
  const bin = join(root, "target/debug/mockhub");
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run \`make build\` first`);
  const cache = process.env.HEARTH_TEST_MODELS ?? join(homedir(), ".cache/hearth/test-models");
  const dir = mkdtempSync(join(tmpdir(), "hearth-mockhub-"));
  const args = ["--test-model", join(cache, "SmolLM2-135M-Instruct.Q4_1.gguf"), "--dir", dir];
  if (throttle) args.push("--throttle", String(throttle));
  const child = spawn(bin, args, {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const url = await new Promise((ok, fail) => {
    let out = "";
    const timer = setTimeout(() => fail(new Error(`mockhub did not start: ${out}`)), 20_000);
    child.stdout.on("data", (d) => {
      out += d;
      const m = /MOCKHUB_URL=(\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        ok(m[1]);
      }
    });
    child.on("exit", (code) => fail(new Error(`mockhub exited with ${code}: ${out}`)));
  });
  return {
    url,
    // Where the synthetic models' sparse files are: tests may list them as another app's files.
    dir,
    stop: () => {
      child.kill("SIGTERM");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** axe-core (ui's devDependency), injected into the page to check what a person sees. */
const axeSource = readFileSync(join(root, "ui/node_modules/axe-core/axe.min.js"), "utf8");

/** WCAG AA colour contrast in the real window as it is now (axe-core's `color-contrast` rule):
 * throws, naming each element, its colours and ratio, when anything is below it. */
export async function checkContrast(session, name) {
  await session.execute(`if (!window.axe) { ${axeSource} }`);
  const result = await session.executeAsync(
    "const done = arguments[arguments.length - 1];" +
      "axe.run(document, { runOnly: { type: 'rule', values: ['color-contrast'] } })" +
      ".then((r) => done(r.violations.flatMap((v) => v.nodes.map((n) => n.target.join(' ') + ': ' + (n.any[0]?.message ?? n.failureSummary)))))" +
      ".catch((e) => done(['axe failed: ' + e]));",
  );
  if (result.length) throw new Error(`colour contrast below WCAG AA in ${name}:\n${result.join("\n")}`);
}

/** A screenshot of the window as a person sees it now, after checking its colour contrast. */
export async function saveScreenshot(session, name) {
  await checkContrast(session, name);
  mkdirSync(screenshotDir, { recursive: true });
  const path = join(screenshotDir, `${name}.png`);
  // WebKitWebDriver's screenshot waits for a rendering update after it is asked for, and a page with
  // nothing moving paints none: it would wait forever (seen on the idle Discover view). A change too
  // small to see, every 50 ms while the screenshot is taken, keeps frames coming.
  await session.execute(
    "window.__hearthTick = setInterval(() => { const s = document.body.style; s.opacity = s.opacity === '0.999' ? '1' : '0.999'; }, 50);",
  );
  try {
    writeFileSync(path, await session.screenshot());
  } finally {
    await session.execute("clearInterval(window.__hearthTick); document.body.style.opacity = '';");
  }
  return path;
}

/** Opens a new conversation's settings panel and sets greedy decoding (temperature 0) and a cap on
 * the reply's tokens; returns the panel, for more settings before its Save is clicked. */
export async function newGreedyChat(driver, maxTokens) {
  await driver.click(await driver.find('[data-testid="new-chat"]'));
  await driver.click(await driver.waitFor('[data-testid="chat-settings-button"]'));
  const panel = await driver.waitFor('[data-testid="chat-settings"]');
  const temperature = await driver.findIn(panel, "xpath", ".//label[contains(., 'Temperature')]/input");
  await driver.cmd("POST", `/element/${temperature}/clear`, {});
  await driver.cmd("POST", `/element/${temperature}/value`, { text: "0" });
  const max = await driver.findIn(panel, "xpath", ".//label[contains(., 'Max tokens')]/input");
  await driver.cmd("POST", `/element/${max}/value`, { text: String(maxTokens) });
  return panel;
}
