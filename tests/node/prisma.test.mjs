// The app's side of the shared database: a Prisma Client generated from
// sql/prisma/schema.prisma, used through @prisma/adapter-pg as the Next.js app
// uses it, reads what effectd stored and writes effectd's tables. The models
// also validate and generate in an app's own schema (its own generator, no
// preview features), and their indexes are those of sql/migrations/.
//
// Environment:
//   EFFECTD_BIN             the effectd binary under test
//   EFFECTD_TEST_ADMIN_URL  postgres URL of a role that may CREATE/DROP DATABASE
//
// Run: cd tests/node && npm ci && node --test prisma.test.mjs
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { freePort } from "./free_port.mjs";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { PrismaPg } from "@prisma/adapter-pg";
import { createJiti } from "jiti";
import pg from "pg";
import Stripe from "stripe";

const here = path.dirname(fileURLToPath(import.meta.url));
const prismaConfig = path.join(here, "../../sql/prisma/prisma.config.ts");
const prismaSchema = path.join(here, "../../sql/prisma/schema.prisma");
const migrationsDir = path.join(here, "../../sql/migrations");
const rand = () => randomBytes(6).toString("hex");

function requireEnv(name) {
  const value = process.env[name];
  assert.ok(value, `${name} must be set`);
  return value;
}

// The daemon runs in a scratch cwd, so a relative path must not be read from there.
function effectdBin() {
  const bin = requireEnv("EFFECTD_BIN");
  return bin.includes("/") ? path.resolve(bin) : bin;
}

// State shared by the steps below, in the order they run.
let dbName;
let databaseUrl;
let migrated = false;
let workDir;
let daemon;
let prisma;
let sent;

function runPrismaWith(config, ...args) {
  // The schema engine is never needed for validate/generate, and it cannot
  // be downloaded here: /bin/true stands in for it. No telemetry either.
  const result = spawnSync("npx", ["--no", "--", "prisma", ...args, "--config", config], {
    cwd: here,
    encoding: "utf8",
    env: { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: "/bin/true", CHECKPOINT_DISABLE: "1" },
  });
  assert.equal(result.status, 0, `prisma ${args.join(" ")}: ${result.error ?? ""}\n${result.stdout}${result.stderr}`);
}

function runPrisma(...args) {
  runPrismaWith(prismaConfig, ...args);
}

// sql/prisma/schema.prisma without effectd's own generator and datasource
// blocks: what an app copies into its schema.
function modelBlocks(schema) {
  const models = schema.replace(/^(generator|datasource)\s+\w+\s*\{[^}]*\}\n?/gm, "");
  assert.doesNotMatch(models, /^\s*(generator|datasource)\s+\w+\s*\{/m, "a generator or datasource block is left");
  return models;
}

// The app's own schema folder and config: a generator and datasource of its
// own (no preview features) in schema.prisma, effectd's models in a file of
// their own, effectd's tables declared external as the README says. Prisma
// validates and generates it, or the test fails with Prisma's message.
function validateAndGenerateAppSchema(models) {
  const dir = mkdtempSync(path.join(tmpdir(), "effectd-prisma-app-"));
  try {
    const output = path.join(dir, "generated");
    mkdirSync(path.join(dir, "prisma"));
    writeFileSync(
      path.join(dir, "prisma", "schema.prisma"),
      `generator client {\n  provider = "prisma-client"\n  output   = ${JSON.stringify(output)}\n}\n\n` +
        `datasource app {\n  provider = "postgresql"\n}\n`,
    );
    writeFileSync(path.join(dir, "prisma", "effectd.prisma"), models);
    // Import-free, like sql/prisma/prisma.config.ts: nothing above /tmp
    // resolves "prisma/config".
    const config = path.join(dir, "prisma.config.ts");
    writeFileSync(
      config,
      `export default ${JSON.stringify(
        {
          schema: "prisma",
          experimental: { externalTables: true },
          tables: {
            external: [
              "public.Subscription",
              "public.StripeWebhookEvent",
              "public.OutboundEffect",
              "public._effectd_migrations",
            ],
          },
        },
        null,
        2,
      )};\n`,
    );
    runPrismaWith(config, "validate");
    runPrismaWith(config, "generate");
    assert.ok(readdirSync(output).includes("client.ts"), `no client.ts in ${output}: ${readdirSync(output).join(", ")}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// Every index of the SQL migrations, as they leave the database, by name.
function sqlIndexes() {
  const indexes = new Map();
  const files = readdirSync(migrationsDir).filter((f) => f.endsWith(".sql")).sort();
  assert.ok(files.length > 0, `no migrations in ${migrationsDir}`);
  for (const file of files) {
    const sql = readFileSync(path.join(migrationsDir, file), "utf8").replace(/--.*$/gm, "");
    const statements = /\b(?:CREATE\s+(UNIQUE\s+)?INDEX\s+(?:IF\s+NOT\s+EXISTS\s+)?"([^"]+)"\s+ON\s+"([^"]+)"\s*\(([^)]*)\)([^;]*);|DROP\s+INDEX\s+(?:IF\s+EXISTS\s+)?"([^"]+)")/gi;
    for (const m of sql.matchAll(statements)) {
      if (m[6]) {
        indexes.delete(m[6]);
        continue;
      }
      const where = m[5].trim();
      assert.ok(where === "" || /^WHERE\b/i.test(where), `${file}: unexpected ${JSON.stringify(where)} after index ${m[2]}`);
      indexes.set(m[2], {
        table: m[3],
        unique: Boolean(m[1]),
        columns: m[4].split(",").map((c) => c.trim().replace(/^"|"$/g, "")),
        partial: where !== "",
      });
    }
  }
  return indexes;
}

// Every index and unique constraint of the Prisma models, by the name Prisma
// gives it in the database (map: or Prisma's default).
function prismaIndexes(schema) {
  const indexes = new Map();
  const code = schema.replace(/^\s*\/\/.*$/gm, "");
  for (const [, model, body] of code.matchAll(/^model\s+(\w+)\s*\{([\s\S]*?)^\}/gm)) {
    assert.doesNotMatch(body, /@@map\b|@map\b/, `${model}: @map/@@map not handled here`);
    const add = (columns, unique, map) => {
      const name = map ?? `${model}_${columns.join("_")}_${unique ? "key" : "idx"}`;
      assert.ok(!indexes.has(name), `${name} declared twice`);
      indexes.set(name, { table: model, unique, columns });
    };
    for (const [, field, map] of body.matchAll(/^\s*(\w+)\s+[\w?\[\]]+[^\n]*@unique(?:\(\s*map:\s*"([^"]+)"\s*\))?/gm)) {
      add([field], true, map);
    }
    for (const [, kind, args] of body.matchAll(/@@(index|unique)\(([^\n]*)\)\s*$/gm)) {
      const cols = /^\s*\[([^\]]*)\]/.exec(args);
      assert.ok(cols, `${model}: cannot read @@${kind}(${args})`);
      assert.doesNotMatch(args, /\bwhere\s*:/, `${model}: @@${kind}(${args}) needs the partialIndexes preview feature`);
      const map = /\bmap:\s*"([^"]+)"/.exec(args)?.[1];
      add(cols[1].split(",").map((c) => c.trim()), kind === "unique", map);
    }
  }
  return indexes;
}

async function withAdmin(fn) {
  const client = new pg.Client({ connectionString: requireEnv("EFFECTD_TEST_ADMIN_URL") });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

function startDaemon(env) {
  const child = spawn(effectdBin(), ["serve"], {
    cwd: workDir,
    env: { ...process.env, EFFECTD_ADMIN_LISTEN: "127.0.0.1:0", EMAIL_PROVIDER: "file", ANALYTICS_PROVIDER: "log", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const d = { child, output: "", exit: null };
  // Kept for failure messages; the pipes must be drained anyway.
  const keep = (chunk) => (d.output = (d.output + chunk).slice(-20000));
  child.stdout.setEncoding("utf8").on("data", keep);
  child.stderr.setEncoding("utf8").on("data", keep);
  d.exited = new Promise((resolve) => {
    child.once("exit", (code, signal) => resolve((d.exit = { code, signal })));
    child.once("error", (err) => resolve((d.exit = { code: null, signal: null, error: err.message })));
  });
  return d;
}

async function stopDaemon(d) {
  if (!d.exit) d.child.kill("SIGTERM");
  // Longer than effectd's own shutdown deadline (20 s by default); unref'd so
  // the pending timer does not hold the test process open.
  const timeout = sleep(30_000, "timeout", { ref: false });
  if ((await Promise.race([d.exited, timeout])) === "timeout") {
    d.child.kill("SIGKILL");
    await d.exited;
    assert.fail(`effectd did not exit within 30 s of SIGTERM:\n${d.output}`);
  }
  assert.deepEqual(d.exit, { code: 0, signal: null }, `effectd exit after SIGTERM:\n${d.output}`);
}

test("prisma validates the schema and generates the client", () => {
  runPrisma("validate");
  runPrisma("generate");
});

test("the models validate and generate in an app's own schema, with no preview feature", () => {
  validateAndGenerateAppSchema(modelBlocks(readFileSync(prismaSchema, "utf8")));
});

test("the models' indexes are the SQL migrations' indexes, partial ones aside", () => {
  const schema = readFileSync(prismaSchema, "utf8");
  const inSql = sqlIndexes();
  const inPrisma = prismaIndexes(schema);
  assert.ok(inPrisma.size > 0 && inSql.size > 0);
  for (const [name, index] of inPrisma) {
    const sql = inSql.get(name);
    assert.ok(sql, `${name} is in schema.prisma but no migration creates it`);
    assert.deepEqual({ ...sql, partial: undefined }, { ...index, partial: undefined }, `${name} differs`);
    assert.equal(sql.partial, false, `${name} is partial in SQL, plain in schema.prisma`);
  }
  // What Prisma cannot express without a preview feature stays in the SQL,
  // and schema.prisma says so by name.
  for (const [name, index] of inSql) {
    if (inPrisma.has(name)) continue;
    assert.ok(index.partial, `${name} is in the migrations but not in schema.prisma`);
    assert.ok(schema.includes(`"${name}"`), `schema.prisma does not name the SQL-only partial index ${name}`);
  }
});

test("effectd migrates a fresh database", async () => {
  dbName = `effectd_prisma_${rand()}`;
  await withAdmin((c) => c.query(`CREATE DATABASE "${dbName}"`));
  const url = new URL(requireEnv("EFFECTD_TEST_ADMIN_URL"));
  url.pathname = `/${dbName}`;
  databaseUrl = url.toString();

  const result = spawnSync(effectdBin(), ["migrate"], {
    encoding: "utf8",
    env: { ...process.env, DATABASE_URL: databaseUrl },
    timeout: 60_000,
  });
  assert.equal(result.status, 0, `effectd migrate: ${result.error ?? ""}\n${result.stdout}${result.stderr}`);
  migrated = true;
});

test("effectd stores a Stripe-signed event", async () => {
  assert.ok(migrated, "needs the migrated database");
  // The daemon's cwd and outbox: whatever it writes stays out of the tree.
  workDir = mkdtempSync(path.join(tmpdir(), "effectd-prisma-test-"));
  const secret = `whsec_${rand()}`;
  const listen = await freePort();
  let admin = await freePort();
  while (admin === listen) admin = await freePort();
  daemon = startDaemon({
    DATABASE_URL: databaseUrl,
    EFFECTD_LISTEN: `127.0.0.1:${listen}`,
    EFFECTD_ADMIN_LISTEN: `127.0.0.1:${admin}`,
    STRIPE_WEBHOOK_SECRET: secret,
    EFFECTD_LOG_FORMAT: "text",
    EMAIL_FILE_DIR: workDir,
  });

  const base = `http://127.0.0.1:${listen}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    assert.equal(daemon.exit, null, `effectd exited while starting:\n${daemon.output}`);
    const status = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(1000) }).then(
      (res) => res.status,
      () => 0,
    );
    if (status === 200) break;
    assert.ok(Date.now() < deadline, `/readyz not 200 within 20 s (last ${status}):\n${daemon.output}`);
    await sleep(100);
  }

  const created = Math.floor(Date.now() / 1000);
  const id = rand();
  const object = {
    id: `sub_${id}`,
    object: "subscription",
    customer: `cus_${id}`,
    status: "active",
    cancel_at_period_end: false,
    created,
    livemode: false,
    metadata: {},
    items: {
      object: "list",
      data: [
        {
          id: `si_${id}`,
          object: "subscription_item",
          price: { id: `price_${id}`, object: "price", product: `prod_${id}`, currency: "usd", unit_amount: 1900 },
          quantity: 1,
          current_period_start: created,
          current_period_end: created + 30 * 86400,
        },
      ],
    },
  };
  const event = {
    id: `evt_${id}`,
    object: "event",
    type: "customer.subscription.created",
    created,
    livemode: false,
    api_version: "2025-03-31.basil",
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    data: { object },
  };
  const body = JSON.stringify(event);
  // Signing needs no API key; the SDK only wants a non-empty one.
  const header = new Stripe("sk_test_unused").webhooks.generateTestHeaderString({ payload: body, secret });
  const res = await fetch(`${base}/webhooks/stripe`, {
    method: "POST",
    headers: { "Content-Type": "application/json", "Stripe-Signature": header },
    body,
  });
  assert.equal(res.status, 200, `POST /webhooks/stripe: ${await res.text()}\n${daemon.output}`);
  sent = { event, object, postedAt: Date.now() };
});

test("the generated client reads and writes effectd's tables", async (t) => {
  assert.ok(migrated, "needs the migrated database");
  // The prisma-client generator emits TypeScript; jiti compiles it on import.
  // Prisma's runtime is left to Node: through jiti's require its error
  // reporting breaks (node:path loses its default export).
  const jiti = createJiti(import.meta.url, { nativeModules: ["@prisma/client"] });
  const { PrismaClient } = await jiti.import("./generated/prisma/client.ts");
  prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: databaseUrl }) });

  await t.test("an organization with its owner, in one nested create", async () => {
    const id = rand();
    // Better Auth's tables have no database defaults: the app supplies them.
    const createdAt = new Date();
    await prisma.organization.create({
      data: {
        id: `org_${id}`,
        name: "Acme",
        slug: `acme-${id}`,
        createdAt,
        members: {
          create: {
            id: `mem_${id}`,
            role: "owner",
            createdAt,
            user: { create: { id: `usr_${id}`, name: "Ada", email: `ada-${id}@example.com`, createdAt } },
          },
        },
      },
    });
    const org = await prisma.organization.findUnique({
      where: { slug: `acme-${id}` },
      include: { members: { include: { user: true } }, subscription: true },
    });
    assert.equal(org.id, `org_${id}`);
    assert.equal(org.createdAt.getTime(), createdAt.getTime());
    assert.equal(org.subscription, null);
    assert.equal(org.members.length, 1);
    const [owner] = org.members;
    assert.equal(owner.role, "owner");
    assert.equal(owner.user.email, `ada-${id}@example.com`);
    assert.equal(owner.user.emailVerified, false);
    assert.ok(owner.user.updatedAt instanceof Date);
  });

  await t.test("the event effectd stored, with Prisma's types", async () => {
    assert.ok(sent, "needs the event posted to effectd");
    const { event, object, postedAt } = sent;
    const row = await prisma.stripeWebhookEvent.findUnique({ where: { id: event.id } });
    assert.ok(row, `no StripeWebhookEvent ${event.id}`);
    assert.equal(row.type, event.type);
    assert.equal(row.apiVersion, event.api_version);
    assert.ok(row.stripeCreatedAt instanceof Date);
    assert.equal(row.stripeCreatedAt.getTime(), event.created * 1000);
    assert.strictEqual(row.livemode, false);
    assert.equal(typeof row.payload, "object");
    assert.equal(row.payload.id, event.id);
    assert.deepEqual(row.payload.data.object, object);
    // Its handler ran in the storing transaction: no organization is linked
    // to this customer, so it waits as failed, to be retried.
    assert.equal(row.status, "failed");
    assert.strictEqual(row.attempts, 1);
    assert.match(row.lastError, new RegExp(`customer ${sent.object.customer}`));
    assert.ok(row.nextAttemptAt instanceof Date && row.nextAttemptAt.getTime() > row.receivedAt.getTime());
    assert.strictEqual(row.processedAt, null);
    assert.ok(row.receivedAt instanceof Date);
    // TIMESTAMP(3) holds UTC: a zone slip would show as hours here.
    assert.ok(Math.abs(row.receivedAt.getTime() - postedAt) < 60_000, `receivedAt ${row.receivedAt.toISOString()}`);
  });

  await t.test("enqueueing an effect twice by key keeps the first", async () => {
    const key = `email:subscription_started:sub_${rand()}`;
    const payload = { to: "a@example.com", template: "subscription_started", data: {} };
    // The app's enqueue: the first writer of a key wins, later ones are no-ops.
    const enqueue = () =>
      prisma.outboundEffect.upsert({ where: { key }, create: { key, kind: "email", payload }, update: {} });
    const first = await enqueue();
    const second = await enqueue();
    assert.equal(await prisma.outboundEffect.count({ where: { key } }), 1);
    // The id comes from the database default, not from Prisma.
    assert.match(first.id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.equal(first.status, "pending");
    assert.deepEqual(first.payload, payload);
    assert.equal(second.id, first.id);
    assert.equal(second.createdAt.getTime(), first.createdAt.getTime());
    assert.equal(second.kind, "email");
    assert.deepEqual(second.payload, payload);

    // The running daemon delivers it (NOTIFY from the trigger wakes it), once:
    // one .eml file, and a later upsert of the key changes nothing.
    const deadline = Date.now() + 15_000;
    let row;
    do {
      row = await prisma.outboundEffect.findUnique({ where: { key } });
      if (row.status === "sent") break;
      await sleep(100);
    } while (Date.now() < deadline);
    assert.equal(row.status, "sent", `effect not sent:\n${daemon.output}`);
    assert.ok(row.sentAt instanceof Date);
    const files = readdirSync(workDir).filter((f) => f.endsWith(".eml"));
    const mine = files.filter((f) => f === `${first.id}.eml`);
    assert.equal(mine.length, 1, `files: ${files.join(", ")}`);
    const eml = readFileSync(path.join(workDir, mine[0]), "utf8");
    assert.match(eml, /^To: a@example\.com\r$/m);
    const third = await enqueue();
    assert.equal(third.status, "sent");
    assert.equal(third.updatedAt.getTime(), row.updatedAt.getTime());
    await sleep(500);
    assert.equal(readdirSync(workDir).filter((f) => f === `${first.id}.eml`).length, 1);

    // Retention compacts the row instead of deleting it (as the daemon's
    // pruning leaves it: payload dropped, payloadPrunedAt set): the app's
    // upsert and createMany of the key still change nothing, and nothing is sent.
    await prisma.$executeRaw`UPDATE "OutboundEffect" SET "payload" = '{}'::jsonb,
      "payloadPrunedAt" = now() AT TIME ZONE 'UTC' WHERE "key" = ${key}`;
    const compacted = await prisma.outboundEffect.findUnique({ where: { key } });
    const fourth = await enqueue();
    assert.equal(fourth.id, first.id);
    assert.equal(fourth.status, "sent");
    assert.deepEqual(fourth.payload, {});
    assert.equal(fourth.updatedAt.getTime(), compacted.updatedAt.getTime());
    const many = await prisma.outboundEffect.createMany({
      data: [{ key, kind: "email", payload }],
      skipDuplicates: true,
    });
    assert.equal(many.count, 0);
    assert.equal(await prisma.outboundEffect.count({ where: { key } }), 1);
    await sleep(500);
    assert.equal(readdirSync(workDir).filter((f) => f === `${first.id}.eml`).length, 1);
  });
});

after(async () => {
  // Every cleanup runs; the first failure is reported afterwards.
  const failures = [];
  const attempt = async (fn) => {
    try {
      await fn();
    } catch (err) {
      failures.push(err);
    }
  };
  if (daemon) await attempt(() => stopDaemon(daemon));
  if (prisma) await attempt(() => prisma.$disconnect());
  if (dbName) await attempt(() => withAdmin((c) => c.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`)));
  if (workDir) rmSync(workDir, { recursive: true, force: true });
  if (failures.length) throw failures[0];
});
