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

// The server refused the statement's data (SQLSTATE classes 22, data
// exception, and 23, integrity constraint violation) or hit a limit of its
// own (54): the same statement fails the same way every time, unlike an
// outage, a deadlock or a serialization failure.
bool refusesTheData(const std::exception& e);

// Worth trying the same statement again later: the connection or the
// transaction was lost (class 08, in doubt), a deadlock or serialization
// failure (40), the server short of resources (53), a lock or object busy
// (55), an operator's or a deadline's cancel (57), a system error (58), or
// no SQLSTATE at all. Anything else (bad data, a constraint, a trigger's
// exception, a missing permission) fails the same way every time.
bool worthRetrying(const std::exception& e);

}  // namespace effectd::sql
