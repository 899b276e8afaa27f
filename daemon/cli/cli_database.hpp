// Runs one CLI command against the database, turning a database error into
// one line on stderr and exit code 1. Shared by the `events` and `effects`
// commands.
#pragma once

#include <iostream>

#include "config/config.hpp"
#include "sql/connection.hpp"
#include "sql/error_text.hpp"

namespace effectd::daemon {

template <typename F>
int withDatabase(const config::Config& config, const char* command, F f) {
  try {
    sql::DirectConnection conn(config.databaseUrl);
    return f(*conn);
  } catch (const std::exception& e) {
    std::cerr << "effectd " << command << ": " << sql::errorText(e) << "\n";
    return 1;
  }
}

}  // namespace effectd::daemon
