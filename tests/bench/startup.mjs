// `make bench`: prints and saves (target/bench/startup.json) three figures:
//  - how long `hearth probe --json` takes, whole process, median of 15 runs (and the probe's own time);
//  - how long the app takes from spawn to the first painted Hardware view (the window reports it);
//  - the app's idle memory, all its processes (the app, WebKit's web and network processes), as PSS.
// These are figures, not a test: nothing here fails on a slow machine.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir, cpus, totalmem } from "node:os";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dirname, "../..");
const cli = join(root, "target/debug/hearth");
const app = join(root, "target/debug/hearth-app");
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function probeFigures(runs = 15) {
  const home = mkdtempSync(join(tmpdir(), "hearth-bench-"));
  const wall = [];
  const own = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const out = execFileSync(cli, ["probe", "--json"], { env: { ...process.env, HEARTH_HOME: home } });
    wall.push(performance.now() - t0);
    own.push(JSON.parse(out).probeMs);
  }
  rmSync(home, { recursive: true, force: true });
  return { runs, wallMedianMs: Math.round(median(wall)), wallMinMs: Math.round(Math.min(...wall)), probeMedianMs: median(own) };
}

function descendants(pid) {
  const parent = new Map();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      parent.set(Number(d), ppid);
    } catch {}
  }
  const out = [pid];
  for (let changed = true; changed; ) {
    changed = false;
    for (const [p, pp] of parent) if (out.includes(pp) && !out.includes(p)) (out.push(p), (changed = true));
  }
  return out;
}

function pssBytes(pids) {
  let kb = 0;
  for (const p of pids) {
    try {
      kb += Number(/^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${p}/smaps_rollup`, "utf8"))[1]);
    } catch {}
  }
  return kb * 1024;
}

async function startupOnce(display) {
  const home = mkdtempSync(join(tmpdir(), "hearth-bench-"));
  const t0 = performance.now();
  const child = spawn(app, [], {
    env: {
      ...process.env,
      DISPLAY: display,
      HEARTH_HOME: home,
      HEARTH_LOG: "hearth=info",
      WEBKIT_DISABLE_DMABUF_RENDERER: "1",
      WEBKIT_DISABLE_COMPOSITING_MODE: "1",
      LIBGL_ALWAYS_SOFTWARE: "1",
    },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let log = "";
  const painted = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`no first paint in 30 s; log:\n${log}`)), 30_000);
    child.stderr.on("data", (d) => {
      log += String(d).replace(/\x1b\[[0-9;]*m/g, "");
      const m = /first_paint_ms=(\d+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        ok({ spawnToPaintMs: Math.round(performance.now() - t0), mainToPaintMs: Number(m[1]) });
      }
    });
  });
  await sleep(5000); // idle: the view's refresh timer runs, nothing else
  const idle = pssBytes(descendants(child.pid));
  child.kill("SIGTERM");
  await new Promise((r) => child.on("exit", r));
  rmSync(home, { recursive: true, force: true });
  return { ...painted, idleBytes: idle };
}

async function startupFigures(runs = 5) {
  let display = process.env.DISPLAY;
  let xvfb;
  if (!display) {
    display = ":77";
    xvfb = spawn("Xvfb", [display, "-screen", "0", "1920x1080x24", "-nolisten", "tcp"], { stdio: "ignore" });
    await sleep(500);
  }
  const all = [];
  try {
    await startupOnce(display); // warm the page cache, as a second launch by a person would be
    for (let i = 0; i < runs; i++) all.push(await startupOnce(display));
  } finally {
    xvfb?.kill();
  }
  return {
    runs,
    spawnToPaintMedianMs: median(all.map((r) => r.spawnToPaintMs)),
    mainToPaintMedianMs: median(all.map((r) => r.mainToPaintMs)),
    idleMemoryMedianMB: Math.round(median(all.map((r) => r.idleBytes)) / 1024 ** 2),
  };
}

const result = {
  machine: { cpus: cpus().length, cpu: cpus()[0]?.model, ramGB: Math.round(totalmem() / 1024 ** 3) },
  build: "dev profile, as make test builds it (dependencies unoptimised but for the hot path: Cargo.toml)",
  probe: probeFigures(),
  app: await startupFigures(),
};
mkdirSync(join(root, "target/bench"), { recursive: true });
writeFileSync(join(root, "target/bench/startup.json"), JSON.stringify(result, null, 2));
console.log(JSON.stringify(result, null, 2));
