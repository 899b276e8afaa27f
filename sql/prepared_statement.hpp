// Runs a statement as a named prepared statement of the transaction's
// connection: parsed and planned once per connection rather than on every
// call. Registering the same name with the same text again is a no-op in
// libpqxx, so callers keep the SQL next to the call.
#pragma once

#include <pqxx/pqxx>
#include <utility>

namespace effectd::sql {

template <typename... Args>
pqxx::result execPrepared(pqxx::transaction_base& tx, const char* name, const char* sql,
                          Args&&... args) {
  tx.conn().prepare(name, sql);
  return tx.exec_prepared(name, std::forward<Args>(args)...);
}

}  // namespace effectd::sql
