#include "sql/prepared_statement.hpp"

#include <atomic>

#include "base/log.hpp"

namespace effectd::sql {
namespace {
std::atomic<StatementMode> mode{StatementMode::Named};
std::atomic<bool> fallBack{false};
}  // namespace

void useStatementMode(StatementMode m, bool fallBackToUnnamed) {
  mode.store(m, std::memory_order_relaxed);
  fallBack.store(fallBackToUnnamed, std::memory_order_relaxed);
}

StatementMode statementMode() {
  return mode.load(std::memory_order_relaxed);
}

void namedStatementFailed(const pqxx::sql_error& error) {
  const auto& state = error.sqlstate();
  if (state != "26000" && state != "42P05") return;
  if (!fallBack.load(std::memory_order_relaxed)) return;
  auto expected = StatementMode::Named;
  if (!mode.compare_exchange_strong(expected, StatementMode::Unnamed)) return;
  log::warn("database statements",
            {{"statements", "unnamed"},
             {"why", "SQLSTATE " + state +
                         ": a transaction pooler in front of DATABASE_URL (set "
                         "DATABASE_POOLER=transaction to start this way, and DATABASE_LISTEN_URL "
                         "to a direct connection: LISTEN through a pooler misses notifications)"}});
}

}  // namespace effectd::sql
