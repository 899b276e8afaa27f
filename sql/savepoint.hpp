// A savepoint in the caller's transaction. Not pqxx::subtransaction: in
// libpqxx 6.4 it sends its SAVEPOINT only before a plain exec(), never
// before exec_prepared(), so a failing prepared statement took the whole
// transaction down with it.
#pragma once

#include <string>

namespace pqxx {
class transaction_base;
}

namespace effectd::sql {

class Savepoint {
 public:
  Savepoint(pqxx::transaction_base& tx, std::string name);  // sends SAVEPOINT
  Savepoint(const Savepoint&) = delete;
  Savepoint& operator=(const Savepoint&) = delete;
  // Undoes everything since the savepoint; the transaction goes on.
  void rollback();

 private:
  pqxx::transaction_base& tx_;
  std::string name_;
};

}  // namespace effectd::sql
