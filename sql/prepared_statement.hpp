// How every statement of effectd reaches the server.
//
// Directly connected, a statement runs as a named prepared statement of its
// connection: parsed and planned once per connection rather than on every
// call. Registering the same name with the same text again is a no-op in
// libpqxx, so callers keep the SQL next to the call.
//
// Behind a transaction pooler (sql/pooler.hpp) a named statement prepared on
// one server connection does not exist on the next, and may already exist
// there under the same name from another client. There every statement goes
// unnamed instead (PQexecParams: parse, bind and execute in one round trip),
// which keeps nothing on the server between transactions.
//
// A pooler that sql/pooler.cpp does not recognise (RDS Proxy, a PgBouncer
// under another name) shows itself by SQLSTATE 26000 or 42P05 on a named
// statement. Allowed to (DATABASE_POOLER=auto), effectd then goes unnamed for
// the rest of the process and says so once; the statement that found out
// still fails, and its caller retries it as after any database error.
#pragma once

#include <pqxx/pqxx>
#include <utility>

namespace effectd::sql {

enum class StatementMode { Named, Unnamed };

// Process-wide, like the pooler in front of DATABASE_URL: set once at start,
// before any connection is used. Named unless told otherwise.
void useStatementMode(StatementMode mode, bool fallBackToUnnamed = false);
StatementMode statementMode();
// Called with the error of a named statement: switches to unnamed when it
// shows a transaction pooler and the fallback is allowed.
void namedStatementFailed(const pqxx::sql_error& error);

template <typename... Args>
pqxx::result execPrepared(pqxx::transaction_base& tx, const std::string& name,
                          const std::string& sql, Args&&... args) {
  if (statementMode() == StatementMode::Unnamed) {
    return tx.exec_params(sql, std::forward<Args>(args)...);
  }
  tx.conn().prepare(name, sql);
  try {
    return tx.exec_prepared(name, std::forward<Args>(args)...);
  } catch (const pqxx::sql_error& e) {
    namedStatementFailed(e);
    throw;
  }
}

}  // namespace effectd::sql
