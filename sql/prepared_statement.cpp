#include "sql/prepared_statement.hpp"

#include <atomic>

namespace effectd::sql {
namespace {
std::atomic<StatementMode> mode{StatementMode::Named};
}

void useStatementMode(StatementMode m) {
  mode.store(m, std::memory_order_relaxed);
}

StatementMode statementMode() {
  return mode.load(std::memory_order_relaxed);
}

}  // namespace effectd::sql
