#include <cstdlib>

#include "daemon/cli/cli.hpp"

int main(int argc, char** argv) {
  // libpq defaults, unless the operator chose: a connect attempt is a
  // database call like any other, bounded by EFFECTD_DB_TIMEOUT (5 s by
  // default; config validation refuses a bad value before anything connects),
  // and the daemon's sessions are recognisable in pg_stat_activity.
  const char* databaseTimeout = std::getenv("EFFECTD_DB_TIMEOUT");
  setenv("PGCONNECT_TIMEOUT", databaseTimeout && *databaseTimeout ? databaseTimeout : "5", 0);
  setenv("PGAPPNAME", "effectd", 0);
  return effectd::daemon::runCli(argc, argv);
}
