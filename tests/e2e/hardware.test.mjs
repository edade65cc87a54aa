// The Hardware view in the real window: what it shows must match what the OS reports.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { launchApp, saveScreenshot } from "./lib/app.mjs";

function osMemTotalBytes() {
  const kb = Number(/^MemTotal:\s+(\d+) kB/m.exec(readFileSync("/proc/meminfo", "utf8"))[1]);
  return kb * 1024;
}

function osCpuBrand() {
  const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"));
  return m ? m[1].trim() : null;
}

test("the window opens on the Hardware view and shows this machine's CPU and RAM truthfully", async () => {
  const app = await launchApp();
  const { driver } = app;
  try {
    const brandEl = await driver.waitFor('[data-testid="cpu-brand"]');
    const brand = await driver.text(brandEl);
    const osBrand = osCpuBrand();
    if (osBrand) assert.equal(brand, osBrand.replace(/\s+/g, " "));

    const ramEl = await driver.find('[data-testid="ram-total"]');
    const shownBytes = Number(await driver.attribute(ramEl, "data-bytes"));
    assert.equal(shownBytes, osMemTotalBytes(), "RAM total must be exactly what /proc/meminfo reports");
    const expectedText = `${(osMemTotalBytes() / 1024 ** 3).toFixed(1)} GB`;
    assert.equal(await driver.text(ramEl), expectedText);

    // The frame: Hardware is the current view, and all seven views can be opened.
    const hw = await driver.find('[data-testid="nav-hardware"]');
    assert.equal(await driver.attribute(hw, "aria-current"), "page");
    for (const view of ["chat", "discover", "models", "downloads", "hardware", "server", "settings"]) {
      assert.equal(await driver.property(await driver.find(`[data-testid="nav-${view}"]`), "disabled"), false, view);
    }

    // One sentence on what the machine is good for, and a GPU card that is honest about this machine.
    const summary = await driver.text(await driver.find('[data-testid="summary"]'));
    assert.match(summary, /models run|GPU/);
    const gpuNames = await Promise.all((await driver.findAll('[data-testid="gpu-name"]')).map((e) => driver.text(e)));
    assert.ok(gpuNames.length >= 1);
    assert.ok(!gpuNames.some((n) => /llvmpipe|lavapipe|swiftshader/i.test(n)), `software renderer shown as a GPU: ${gpuNames}`);

    // The window is 1280×800 as configured, and the screenshot is what a person sees.
    const size = await driver.execute("return [window.innerWidth, window.innerHeight]");
    assert.deepEqual(size, [1280, 800]);
    await saveScreenshot(driver, "hardware");

    // "What fits": a grid coloured for this machine (24 GB, no GPU): an 8B at Q4 fits in RAM (green
    // where this machine's RAM is fast enough for 5 tok/s, else yellow "slow": both say it runs), a
    // 123B at F16 does not.
    await driver.waitFor('[data-testid="fit-cell"]');
    const verdicts = async () =>
      (await driver.readAll('[data-testid="fit-cell"]', ["data-verdict"])).map((c) => c["data-verdict"]);
    const mine = await verdicts();
    assert.equal(mine.length, 49);
    assert.ok(["green", "yellow"].includes(mine[2 * 7 + 2]), `8B Q4_K_M on this machine: ${mine[2 * 7 + 2]}`);
    assert.equal(mine[6 * 7 + 6], "red", "123B F16 on this machine");
    await driver.execute('document.querySelector("[data-testid=what-fits]").scrollIntoView()');
    await saveScreenshot(driver, "hardware-what-fits");

    // What if: two RTX 3090s. The 70B Q4_K_M row turns green.
    await driver.click(await driver.find('[data-testid="whatif-gpu"] option[value="RTX 3090"]'));
    await driver.waitFor('[data-testid="whatif-count"]');
    await driver.click(await driver.find('[data-testid="whatif-count"] option[value="2"]'));
    const deadline = Date.now() + 10_000;
    let imagined = await verdicts();
    while (imagined[5 * 7 + 2] !== "green" && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      imagined = await verdicts();
    }
    assert.equal(imagined[5 * 7 + 2], "green", "70B Q4_K_M on 2× RTX 3090");
    await driver.execute('document.querySelector("[data-testid=what-fits]").scrollIntoView()');
    await saveScreenshot(driver, "hardware-what-if");
  } finally {
    await app.stop();
  }
});
