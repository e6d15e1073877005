// A real `saldo serve` on a fresh data directory (SQLite, or a fresh PostgreSQL database), and
// Debian's Chromium driven by playwright-core, with what every journey checks on every page:
// axe-core finds no serious or critical violation, nothing is asked of another origin, the
// console shows no error; and every page is screenshotted at 1280 and 390 px wide.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));
export const repo = path.resolve(here, "../../..");
const binary = process.env.SALDO_BIN || path.join(repo, "target/debug/saldo");
const screenshots = path.join(repo, "target/screenshots");
const axeSource = readFileSync(path.join(here, "../node_modules/axe-core/axe.min.js"), "utf8");

let databases = 0;

/** A fresh PostgreSQL database on the test server, dropped by nobody (the name is unique). */
function freshPostgres() {
  const base = process.env.SALDO_TEST_POSTGRES_URL || "postgres://postgres@127.0.0.1:5432/postgres";
  const name = `saldo_browser_${process.pid}_${Date.now()}_${databases++}`;
  execFileSync("psql", [base, "-q", "-c", `CREATE DATABASE ${name}`]);
  return base.replace(/\/[^/]*$/, `/${name}`);
}

export class Saldo {
  /** Starts `saldo serve`; `backend` is "sqlite" or "postgres". */
  static async start({ backend = "sqlite", env = {} } = {}) {
    const dir = mkdtempSync(path.join(tmpdir(), "saldo-browser-"));
    const clockFile = path.join(dir, "now");
    const vars = {
      ...process.env,
      SALDO_DATA_DIR: path.join(dir, "data"),
      SALDO_CLOCK_FILE: clockFile,
      SALDO_SESSION_IDLE_HOURS: "720",
      ...env,
    };
    if (backend === "postgres") vars.SALDO_DATABASE_URL = freshPostgres();
    else delete vars.SALDO_DATABASE_URL;
    const child = spawn(binary, ["--log-format", "json", "serve", "--listen", "127.0.0.1:0"], { env: vars, stdio: ["ignore", "ignore", "pipe"] });
    const log = [];
    const lines = createInterface({ input: child.stderr });
    const started = new Promise((resolve, reject) => {
      let setupCode = null;
      lines.on("line", (line) => {
        log.push(line);
        let entry;
        try { entry = JSON.parse(line); } catch { return; }
        if (entry.fields?.setup_code) setupCode = entry.fields.setup_code;
        if (entry.fields?.address) resolve({ address: entry.fields.address, setupCode });
      });
      child.on("exit", (code) => reject(new Error(`saldo serve exited (${code}) before listening:\n${log.join("\n")}`)));
    });
    const { address, setupCode } = await started;
    const saldo = new Saldo();
    Object.assign(saldo, { child, dir, clockFile, env: vars, log, setupCode, url: `http://${address}`, backend });
    return saldo;
  }

  /** Sets the server's clock (an ISO time), as `SALDO_CLOCK_FILE` lets a test do. */
  setClock(iso) {
    writeFileSync(this.clockFile, iso);
  }

  /** Runs a `saldo` command against the same data, returning its standard output. */
  cli(args, input) {
    return execFileSync(binary, args, { env: this.env, input, encoding: "utf8" });
  }

  async stop() {
    this.child.kill("SIGTERM");
    await new Promise((resolve) => this.child.once("exit", resolve));
  }
}

/** A browser page that checks every page it visits. */
export class Browser {
  static async launch(saldo, journey) {
    const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    page.setDefaultTimeout(20000);
    const b = new Browser();
    Object.assign(b, { browser, context, page, saldo, journey, shots: 0, problems: [], refusals: 0 });
    const own = new URL(saldo.url).origin;
    page.on("console", (message) => {
      if (message.type() !== "error") return;
      // A form the journey expects to be refused is answered 4xx, which Chromium logs.
      if (b.refusals > 0 && /Failed to load resource: the server responded with a status of 4\d\d/.test(message.text())) {
        b.refusals--;
        return;
      }
      b.problems.push(`console error on ${page.url()}: ${message.text()}`);
    });
    page.on("pageerror", (error) => b.problems.push(`script error on ${page.url()}: ${error.message}`));
    page.on("request", (request) => {
      const origin = new URL(request.url()).origin;
      if (origin !== own && !request.url().startsWith("data:")) b.problems.push(`request to another origin: ${request.url()}`);
    });
    mkdirSync(screenshots, { recursive: true });
    return b;
  }

  /** The next page the journey opens is a refusal (a 4xx answer), on purpose. */
  expectRefusal() {
    this.refusals++;
  }

  async goto(pathOrUrl) {
    const url = pathOrUrl.startsWith("http") ? pathOrUrl : this.saldo.url + pathOrUrl;
    const response = await this.page.goto(url);
    await this.check();
    return response;
  }

  /** axe-core on the page as it is now, a screenshot at both widths. */
  async check(name) {
    const page = this.page;
    await page.waitForLoadState("load");
    await page.evaluate(axeSource);
    const axe = () =>
      page.evaluate(async () => {
        const found = await window.axe.run(document, { resultTypes: ["violations"] });
        return found.violations
          .filter((v) => v.impact === "serious" || v.impact === "critical")
          .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).slice(0, 3).join(", ")}`);
      });
    for (const violation of await axe()) this.problems.push(`axe on ${page.url()}: ${violation}`);
    // The same page in the dark scheme the system may ask for: its contrast is checked too.
    await page.emulateMedia({ colorScheme: "dark" });
    for (const violation of await axe()) this.problems.push(`axe (dark) on ${page.url()}: ${violation}`);
    const label = (name || new URL(page.url()).pathname.replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, "id").replace(/[^a-z0-9]+/gi, "-").replace(/^-|-$/g, "") || "home").slice(0, 60);
    const file = `${this.journey}-${String(++this.shots).padStart(2, "0")}-${label}`;
    await page.screenshot({ path: path.join(screenshots, `${file}-1280-dark.png`), fullPage: true });
    await page.emulateMedia({ colorScheme: "light" });
    await page.screenshot({ path: path.join(screenshots, `${file}-1280.png`), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: path.join(screenshots, `${file}-390.png`), fullPage: true });
    await page.setViewportSize({ width: 1280, height: 900 });
  }

  /** Clicks and waits for the page that follows, then checks it. */
  async clickAndCheck(locator) {
    await Promise.all([this.page.waitForLoadState("load"), locator.click()]);
    await this.page.waitForLoadState("load");
    await this.check();
  }

  /** Fails the journey on anything seen on any page. */
  assertClean() {
    assert.deepEqual(this.problems, [], this.problems.join("\n"));
  }

  async close() {
    await this.browser.close();
  }
}

/** The API, as a script with the browser's session would call it. */
export async function api(browser, path) {
  const response = await browser.context.request.get(browser.saldo.url + "/api/v1" + path);
  assert.equal(response.status(), 200, `${path}: ${response.status()}`);
  return response.json();
}

/** Claims a fresh install as its owner through the page, signed in afterwards. */
export async function claim(b, { email = "ana@example.org", name = "Ana", password = "correct horse battery staple" } = {}) {
  await b.goto("/");
  await b.page.getByLabel("Setup code").fill(b.saldo.setupCode);
  await b.page.getByLabel("E-mail").fill(email);
  await b.page.getByLabel("Your name").fill(name);
  await b.page.getByLabel("Password").fill(password);
  await b.clickAndCheck(b.page.getByRole("button", { name: "Create the owner and sign in" }));
  return { email, password };
}

export async function signIn(b, email, password) {
  await b.goto("/signin");
  await b.page.getByLabel("E-mail").fill(email);
  await b.page.getByLabel("Password").fill(password);
  await b.clickAndCheck(b.page.getByRole("button", { name: "Sign in" }));
}

/** Connects a sandbox institution through the pages, tracking everything it offers. */
export async function connectBank(b, search, name) {
  await b.goto(`/connect?q=${encodeURIComponent(search)}`);
  await b.clickAndCheck(b.page.getByRole("button", { name: new RegExp(`^${name}\\b`) }));
  await b.clickAndCheck(b.page.getByRole("button", { name: "Allow read-only access" }));
  await b.page.getByRole("heading", { name: /Choose what to track/ }).waitFor();
  await b.clickAndCheck(b.page.getByRole("button", { name: "Save" }));
  await b.page.getByText(/Tracking \d+ account/).waitFor();
  // The first sync runs on; the page follows it and shows what it did.
  await b.page.getByText(/Updated from /).waitFor();
  await b.check("first-sync-done");
}

/** Reloads `path` until `done(page)` holds, for what the server's own worker does in time. */
export async function until(b, path, done, seconds = 30) {
  for (let i = 0; i < seconds * 2; i++) {
    await b.page.goto(b.saldo.url + path);
    if (await done(b.page)) return;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`${path} never showed what was awaited`);
}
