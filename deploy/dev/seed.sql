-- The demo organization `make run` works with: one organization, its owner.
-- Idempotent, so `make run` may run it every time.
INSERT INTO "Organization" ("id", "name", "slug", "createdAt", "metadata")
VALUES ('org_demo', 'Demo Inc.', 'demo', now() AT TIME ZONE 'UTC', NULL)
ON CONFLICT ("id") DO NOTHING;

INSERT INTO "User" ("id", "name", "email", "emailVerified", "createdAt", "updatedAt")
VALUES ('user_demo_owner', 'Demo Owner', 'owner@demo.example', true,
        now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC')
ON CONFLICT ("id") DO NOTHING;

INSERT INTO "Member" ("id", "organizationId", "userId", "role", "createdAt")
VALUES ('member_demo_owner', 'org_demo', 'user_demo_owner', 'owner', now() AT TIME ZONE 'UTC')
ON CONFLICT ("id") DO NOTHING;
