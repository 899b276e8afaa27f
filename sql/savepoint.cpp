#include "sql/savepoint.hpp"

#include <pqxx/pqxx>

namespace effectd::sql {

Savepoint::Savepoint(pqxx::transaction_base& tx, std::string name)
    : tx_(tx), name_(std::move(name)) {
  tx_.exec0("SAVEPOINT " + tx_.quote_name(name_));
}

void Savepoint::rollback() {
  tx_.exec0("ROLLBACK TO SAVEPOINT " + tx_.quote_name(name_));
}

}  // namespace effectd::sql
