// Ids for the rows effectd creates. Prisma fills @default(cuid()) client-side,
// so the database has no default to lean on: effectd makes UUIDv7 text ids,
// time-ordered so that inserts land at the end of the primary key index.
#pragma once

#include <string>
#include <string_view>

namespace effectd::sql {

std::string newUuidV7();

}  // namespace effectd::sql

namespace effectd::sql {

// RFC 4122 version 5 (SHA-1, name-based) in effectd's namespace: the same
// name always gives the same UUID, e.g. PostHog's `uuid` for an effect key.
std::string uuidV5(const std::string& name);

}  // namespace effectd::sql
