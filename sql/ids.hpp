// Ids for the rows effectd creates. Prisma fills @default(cuid()) client-side,
// so the database has no default to lean on: effectd makes UUIDv7 text ids,
// time-ordered so that inserts land at the end of the primary key index.
#pragma once

#include <string>

namespace effectd::sql {

std::string newUuidV7();

}  // namespace effectd::sql
