// Pictures in the real window (issue 29). The mock Hub has a repository that sees images: the test
// model with a synthetic projector of Gemma 3's kind beside it (tests/mockhub). Discover marks it
// as seeing images; one download brings the model and its F16 projector, both verified; My Models
// lists one model, marked "Sees images"; Chat loads it with its projector, a picture is attached
// (through the attach input, as a file picked there is) and sent, the reply's figures count the
// picture's 256 tokens, the thumbnail opens full size; after a restart the conversation still
// shows it. Screenshots of each step.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { launchApp, newGreedyChat, saveScreenshot, startMockHub, until } from "./lib/app.mjs";

test("a model that sees: found, pulled with its projector, and a picture read in Chat and kept", async () => {
  const hub = await startMockHub();
  const home = mkdtempSync(join(tmpdir(), "hearth-e2e-vision-"));
  const env = { HF_ENDPOINT: hub.url, HF_HUB_CACHE: join(home, "no-hf-cache") };
  let app = await launchApp({ env, home });
  let { driver } = app;
  try {
    // Discover: the repository is marked as seeing images.
    await driver.click(await driver.waitFor('[data-testid="nav-discover"]'));
    const search = await driver.waitFor('[data-testid="discover-search"]');
    await driver.cmd("POST", `/element/${search}/value`, { text: "Vision" });
    await until(async () => (await driver.findAll('[data-testid="discover-result"]')).length === 1, 10_000, "one result");
    await driver.click((await driver.findAll('[data-testid="discover-result"]'))[0]);
    await driver.waitFor('[data-testid="sees-images"]', 20_000);
    assert.match(await driver.text(await driver.find('[data-testid="projectors"]')), /comes with its projector/);
    await saveScreenshot(driver, "discover-sees-images");

    // One download brings the model and its projector (F16, of the two), each verified.
    await driver.click(await driver.waitFor('[data-testid="download-button"]'));
    await driver.click(await driver.find('[data-testid="nav-downloads"]'));
    await until(
      async () => {
        const rows = await driver.readAll('[data-testid="download"]', ["data-state"]);
        return rows.length === 2 && rows.every((r) => r["data-state"] === "done");
      },
      60_000,
      "the model and its projector to download",
    );
    const rows = (await driver.readAll('[data-testid="download"]')).map((r) => r.text).join("\n");
    assert.match(rows, /mmproj-SmolLM2-135M-Vision-F16\.gguf/);
    assert.doesNotMatch(rows, /F32/);

    // My Models: one model, which sees images; the projector is not listed as a model.
    await driver.click(await driver.find('[data-testid="nav-models"]'));
    await until(async () => (await driver.findAll('[data-testid="local-model"]')).length === 1, 20_000, "the model to be listed");
    const listed = await driver.readAll('[data-testid="local-model"]', ["data-file"]);
    assert.equal(listed[0]["data-file"], "SmolLM2-135M-Vision-Q4_1.gguf");
    assert.match(listed[0].text, /Sees images/);
    await saveScreenshot(driver, "models-sees-images");

    // Chat: load it, attach a picture, ask about it.
    await driver.click(await driver.find('[data-testid="nav-chat"]'));
    await driver.click(await driver.waitFor('[data-testid="load-model"]'));
    await driver.waitFor('[data-testid="model-loaded"]', 60_000);
    const panel = await newGreedyChat(driver, 6);
    await driver.click(await driver.findIn(panel, "xpath", ".//button[text()='Save']"));
    // A red picture drawn in the page, handed to the attach input as a picked file is.
    await driver.executeAsync(`
      const done = arguments[arguments.length - 1];
      const canvas = document.createElement("canvas");
      canvas.width = 480; canvas.height = 320;
      const g = canvas.getContext("2d");
      g.fillStyle = "#dc1414"; g.fillRect(0, 0, 480, 320);
      g.fillStyle = "#ffffff"; g.font = "48px sans-serif"; g.fillText("Hearth", 150, 180);
      canvas.toBlob((blob) => {
        const files = new DataTransfer();
        files.items.add(new File([blob], "red.png", { type: "image/png" }));
        const input = document.querySelector('[data-testid="attach-input"]');
        input.files = files.files;
        input.dispatchEvent(new Event("change", { bubbles: true }));
        done(true);
      }, "image/png");
    `);
    await driver.waitFor('[data-testid="attached"] img');
    const composer = await driver.waitFor('[data-testid="composer"]');
    await driver.cmd("POST", `/element/${composer}/value`, { text: "What colour is this picture?" });
    await saveScreenshot(driver, "chat-picture-attached");
    await driver.cmd("POST", `/element/${composer}/value`, { text: "\uE007" });
    await until(
      async () => {
        const replies = (await driver.readAll('[data-testid="message"]', ["data-role", "data-state"])).filter((m) => m["data-role"] === "assistant");
        return replies.length === 1 && replies[0]["data-state"] === "done";
      },
      60_000,
      "the reply",
    );
    assert.match(await driver.text(await driver.waitFor('[data-testid="reply-stats"]')), /256 picture tokens, encoded in \d+\.\d\d s/);
    const thumbnail = await driver.waitFor('[data-testid="message-picture"]');
    await saveScreenshot(driver, "chat-picture-reply");
    await driver.click(thumbnail);
    await driver.waitFor('[data-testid="picture-viewer"] img');
    await saveScreenshot(driver, "chat-picture-full-size");
    await driver.click(await driver.find('[data-testid="picture-viewer"]'));
  } finally {
    await app.stop();
  }

  // After a restart the conversation still shows its picture.
  app = await launchApp({ env, home });
  driver = app.driver;
  try {
    await driver.click(await driver.waitFor('[data-testid="nav-chat"]'));
    await driver.click(await driver.waitFor('[data-testid="conversation"] button.title'));
    const img = await driver.waitFor('[data-testid="message-picture"]', 20_000);
    assert.match(await driver.attribute(img, "src"), /^data:image\/jpeg;base64,/);
    await saveScreenshot(driver, "chat-picture-after-restart");
  } finally {
    await app.stop();
    hub.stop();
    rmSync(home, { recursive: true, force: true });
  }
});
