// Turns a database exception into one log-safe line: the SQLSTATE and the
// first line of the server's message, never the query text or its values.
#pragma once

#include <exception>
#include <string>

namespace effectd::sql {

std::string errorText(const std::exception& e);

// The connection broke or the commit's outcome is unknown: the whole
// transaction is lost, so no savepoint or retry within it can help.
bool transactionLost(const std::exception& e);

}  // namespace effectd::sql
