// Starts the real Hearth window for a test: Xvfb (when there is no display), tauri-driver with
// WebKitWebDriver, and a WebDriver session on the built app binary, with its own HEARTH_HOME.
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir, homedir } from "node:os";
import { join, resolve } from "node:path";
import { createServer } from "node:net";
import { WebDriver } from "./webdriver.mjs";

export const root = resolve(import.meta.dirname, "../../..");
export const appBinary = join(root, "target/debug/hearth-app");
export const screenshotDir = join(root, "target/screenshots");

function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
    s.on("error", fail);
  });
}

function tauriDriverPath() {
  const local = join(homedir(), ".cargo/bin/tauri-driver");
  return existsSync(local) ? local : "tauri-driver";
}

/** Start everything; returns { driver: WebDriver, home, stop() }. */
export async function launchApp({ env = {} } = {}) {
  if (!existsSync(appBinary)) throw new Error(`${appBinary} is missing: run \`make build\` first`);
  const children = [];
  const home = mkdtempSync(join(tmpdir(), "hearth-e2e-"));
  const childEnv = {
    ...process.env,
    HEARTH_HOME: home,
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
    rmSync(home, { recursive: true, force: true });
  };

  try {
    const session = await WebDriver.open(`http://127.0.0.1:${port}`, appBinary);
    return { driver: session, home, driverLog, stop: () => stop(session) };
  } catch (e) {
    await stop();
    throw new Error(`${e.message}\n--- tauri-driver said ---\n${driverLog.join("")}`);
  }
}

export async function saveScreenshot(session, name) {
  mkdirSync(screenshotDir, { recursive: true });
  const path = join(screenshotDir, `${name}.png`);
  writeFileSync(path, await session.screenshot());
  return path;
}
