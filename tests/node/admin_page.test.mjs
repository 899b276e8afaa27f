// The admin page in a real browser: Debian's Chromium, driven by
// playwright-core, against the real effectd and a real PostgreSQL. The page
// must show an effect enqueued after it opened, and its Retry button must
// move a dead effect to pending in the table. Saves a screenshot.
//
// Environment:
//   EFFECTD_BIN             the effectd binary under test
//   EFFECTD_TEST_ADMIN_URL  postgres URL of a role that may CREATE/DROP DATABASE
//   EFFECTD_SCREENSHOT      where to save the page (default: a temporary folder)
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { freePort } from "./free_port.mjs";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { chromium } from "playwright-core";

const rand = () => randomBytes(6).toString("hex");
const token = `page-token-${rand()}`;
const dbName = `effectd_page_${rand()}`;
const adminUrl = process.env.EFFECTD_TEST_ADMIN_URL;
const bin = path.resolve(process.env.EFFECTD_BIN ?? "effectd");
const workDir = mkdtempSync(path.join(tmpdir(), "effectd-page-"));
const screenshot = process.env.EFFECTD_SCREENSHOT ?? path.join(workDir, "admin-page.png");

let databaseUrl;
let db;
let daemon;
let output = "";
let browser;

async function waitFor(condition, what, ms = 20_000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await condition()) return;
    await sleep(50);
  }
  assert.fail(`${what} within ${ms} ms; effectd said:\n${output.slice(-4000)}`);
}

async function effectRow(key) {
  const { rows } = await db.query(`SELECT "status", "attempts" FROM "OutboundEffect" WHERE "key" = $1`, [key]);
  return rows[0];
}

before(async () => {
  assert.ok(adminUrl, "EFFECTD_TEST_ADMIN_URL must be set");
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${dbName}"`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${dbName}`;
  databaseUrl = url.toString();
  const migrate = spawnSync(bin, ["migrate"], { env: { ...process.env, DATABASE_URL: databaseUrl }, encoding: "utf8" });
  assert.equal(migrate.status, 0, migrate.stdout + migrate.stderr);
  db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
});

after(async () => {
  await browser?.close();
  if (daemon && daemon.exitCode === null) {
    daemon.kill("SIGTERM");
    await new Promise((resolve) => daemon.once("exit", resolve));
  }
  await db?.end();
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`);
  await admin.end();
  if (!process.env.EFFECTD_SCREENSHOT) rmSync(workDir, { recursive: true, force: true });
});

test("the queue page shows new transitions live, and Retry moves a dead effect to pending", async () => {
  const adminPort = await freePort();
  daemon = spawn(bin, ["serve"], {
    cwd: workDir,
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      STRIPE_WEBHOOK_SECRET: "whsec_page_test",
      EFFECTD_LISTEN: "127.0.0.1:0",
      EFFECTD_ADMIN_LISTEN: `127.0.0.1:${adminPort}`,
      EFFECTD_ADMIN_TOKEN: token,
      EFFECTD_LOG_FORMAT: "json",
      EMAIL_PROVIDER: "file",
      ANALYTICS_PROVIDER: "log",
      EMAIL_FILE_DIR: path.join(workDir, "mail"),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const keep = (chunk) => (output = (output + chunk).slice(-40000));
  daemon.stdout.setEncoding("utf8").on("data", keep);
  daemon.stderr.setEncoding("utf8").on("data", keep);
  await waitFor(() => output.includes('"msg":"listening"'), "effectd listening");

  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  });
  // The browser signs in as an operator would: Basic, any user, the token.
  const context = await browser.newContext({ httpCredentials: { username: "operator", password: token } });
  const page = await context.newPage();
  const problems = [];
  page.on("console", (m) => m.type() === "error" && problems.push(m.text()));
  page.on("pageerror", (e) => problems.push(e.message));
  await page.goto(`http://127.0.0.1:${adminPort}/admin/`);
  await page.locator("#status", { hasText: "live" }).waitFor();

  // Enqueued after the page opened: it arrives through the event stream.
  // (No webhook channel is configured, so it stays pending.)
  const liveKey = `page:live:${rand()}`;
  await db.query(
    `INSERT INTO "OutboundEffect" ("id", "key", "kind", "payload", "runAt", "updatedAt")
     VALUES ($1, $2, 'webhook', '{"url":"https://example.com/hook","event":"x","data":{}}', now(), now())`,
    [`eff_${rand()}`, liveKey]);
  await page.locator("#transitions tbody tr", { hasText: liveKey }).first().waitFor({ timeout: 10_000 });

  const deadKey = `page:dead:${rand()}`;
  await db.query(
    `INSERT INTO "OutboundEffect" ("id", "key", "kind", "payload", "status", "attempts", "lastError", "runAt", "updatedAt")
     VALUES ($1, $2, 'webhook', '{"url":"https://example.com/hook","event":"x","data":{}}', 'dead', 12,
             'HTTP 410 from the provider', now(), now())`,
    [`eff_${rand()}`, deadKey]);
  const deadRow = page.locator("#transitions tbody tr", { hasText: deadKey }).first();
  await deadRow.waitFor({ timeout: 10_000 });
  await deadRow.click();
  await page.locator('#detail-fields dd[data-field="status"]', { hasText: "dead" }).waitFor();
  await page.locator('#detail-fields dd[data-field="lastError"]', { hasText: "HTTP 410" }).waitFor();
  assert.equal(await page.locator("#retry").isEnabled(), true);
  await page.locator("#retry").click();
  await page.locator("#action-result", { hasText: "retry: now pending" }).waitFor();
  await waitFor(async () => (await effectRow(deadKey))?.status === "pending", "the retried effect pending");
  assert.equal((await effectRow(deadKey)).attempts, 0);
  // Its move to pending comes back through the stream too.
  await page.locator("#transitions tbody tr", { hasText: deadKey }).filter({ hasText: "pending" }).first().waitFor();

  // Retrying an unknown effect asks first: dismissed, nothing changes.
  const unknownKey = `page:unknown:${rand()}`;
  await db.query(
    `INSERT INTO "OutboundEffect" ("id", "key", "kind", "payload", "status", "attempts", "lastError", "runAt", "updatedAt")
     VALUES ($1, $2, 'webhook', '{"url":"https://example.com/hook","event":"x","data":{}}', 'unknown', 1,
             'timed out after sending', now(), now())`,
    [`eff_${rand()}`, unknownKey]);
  const unknownRow = page.locator("#transitions tbody tr", { hasText: unknownKey }).first();
  await unknownRow.waitFor({ timeout: 10_000 });
  await unknownRow.click();
  await page.locator('#detail-fields dd[data-field="status"]', { hasText: "unknown" }).waitFor();
  const dialogs = [];
  page.once("dialog", (d) => { dialogs.push(d.message()); d.dismiss(); });
  await page.locator("#retry").click();
  await page.locator("#action-result", { hasText: "retry: nothing changed" }).waitFor();
  assert.match(dialogs[0], /may deliver it twice/);
  assert.equal((await effectRow(unknownKey)).status, "unknown");
  page.once("dialog", (d) => d.accept());
  await page.locator("#retry").click();
  await waitFor(async () => (await effectRow(unknownKey))?.status === "pending", "the confirmed retry pending");
  // The depth table counts it.
  await page.locator("#depth tbody tr", { hasText: "webhook" }).waitFor();

  await page.screenshot({ path: screenshot, fullPage: true });
  assert.deepEqual(problems, [], "the page logged errors (a CSP violation would be one)");
});
