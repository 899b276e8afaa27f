#include "sql/error_text.hpp"

#include <pqxx/except>

namespace effectd::sql {

std::string errorText(const std::exception& e) {
  std::string message = e.what();
  if (auto nl = message.find('\n'); nl != std::string::npos) message.resize(nl);
  if (message.size() > 300) message.resize(300);
  if (const auto* sqlError = dynamic_cast<const pqxx::sql_error*>(&e)) {
    const auto& state = sqlError->sqlstate();
    // A named statement missing on, or already on, the server connection:
    // a transaction pooler that effectd was not told about.
    if (state == "26000" || state == "42P05") {
      message += " (is DATABASE_URL a transaction pooler? set DATABASE_POOLER=transaction)";
    }
    if (!state.empty()) return state + ": " + message;
  }
  return message;
}

bool transactionLost(const std::exception& e) {
  return dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr ||
         dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr;
}

bool refusesTheData(const std::exception& e) {
  const auto* sqlError = dynamic_cast<const pqxx::sql_error*>(&e);
  if (!sqlError) return false;
  const auto state = sqlError->sqlstate();
  return state.rfind("22", 0) == 0 || state.rfind("23", 0) == 0 || state.rfind("54", 0) == 0;
}

bool worthRetrying(const std::exception& e) {
  if (transactionLost(e)) return true;
  const auto* sqlError = dynamic_cast<const pqxx::sql_error*>(&e);
  if (!sqlError || sqlError->sqlstate().size() != 5) return true;
  const auto cls = sqlError->sqlstate().substr(0, 2);
  return cls == "08" || cls == "40" || cls == "53" || cls == "55" || cls == "57" || cls == "58";
}

}  // namespace effectd::sql
