// A small W3C WebDriver client: just the calls Hearth's end-to-end tests use, over fetch.
export class WebDriver {
  constructor(base, sessionId) {
    this.base = base;
    this.sessionId = sessionId;
  }

  static async request(base, method, path, body) {
    const res = await fetch(base + path, {
      method,
      headers: { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await res.json().catch(() => ({}));
    if (!res.ok) {
      const v = json.value ?? {};
      throw new Error(`WebDriver ${method} ${path}: ${res.status} ${v.error ?? ""} ${v.message ?? ""}`);
    }
    return json.value;
  }

  /** Open a session on the app binary; retries while the driver is still starting. */
  static async open(base, application, timeoutMs = 30_000) {
    const deadline = Date.now() + timeoutMs;
    let last;
    while (Date.now() < deadline) {
      try {
        const value = await WebDriver.request(base, "POST", "/session", {
          capabilities: { alwaysMatch: { browserName: "wry", "tauri:options": { application } } },
        });
        return new WebDriver(base, value.sessionId);
      } catch (e) {
        last = e;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    throw new Error(`could not open a WebDriver session: ${last}`);
  }

  cmd(method, path, body) {
    return WebDriver.request(this.base, method, `/session/${this.sessionId}${path}`, body);
  }

  async find(css) {
    const v = await this.cmd("POST", "/element", { using: "css selector", value: css });
    return Object.values(v)[0];
  }

  async findAll(css) {
    const v = await this.cmd("POST", "/elements", { using: "css selector", value: css });
    return v.map((e) => Object.values(e)[0]);
  }

  /** An element inside `parent`, found with `using` ("css selector", "xpath"). */
  async findIn(parent, using, value) {
    const v = await this.cmd("POST", `/element/${parent}/element`, { using, value });
    return Object.values(v)[0];
  }

  /** Wait for an element to exist, polling; returns its id. */
  async waitFor(css, timeoutMs = 20_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        return await this.find(css);
      } catch (e) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${css}: ${e.message}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  /**
   * Every element matching `css`, read in one step inside the page: `{ text, [attr]: value }` each.
   * A list that re-renders between a findAll and the reads of its elements leaves stale ids (a 404
   * "stale element reference" that failed CI once); one script sees one consistent DOM.
   */
  readAll(css, attrs = []) {
    return this.execute(
      `const [css, attrs] = arguments;
       return Array.from(document.querySelectorAll(css)).map((e) => {
         const o = { text: e.innerText.trim() };
         for (const a of attrs) o[a] = e.getAttribute(a);
         return o;
       });`,
      [css, attrs],
    );
  }

  text(id) {
    return this.cmd("GET", `/element/${id}/text`);
  }

  attribute(id, name) {
    return this.cmd("GET", `/element/${id}/attribute/${name}`);
  }

  property(id, name) {
    return this.cmd("GET", `/element/${id}/property/${name}`);
  }

  click(id) {
    return this.cmd("POST", `/element/${id}/click`, {});
  }

  execute(script, args = []) {
    return this.cmd("POST", "/execute/sync", { script, args });
  }

  /** Run `script` in the page; it finishes by calling `arguments[arguments.length - 1](result)`. */
  executeAsync(script, args = []) {
    return this.cmd("POST", "/execute/async", { script, args });
  }

  async screenshot() {
    return Buffer.from(await this.cmd("GET", "/screenshot"), "base64");
  }

  close() {
    return this.cmd("DELETE", "");
  }
}
