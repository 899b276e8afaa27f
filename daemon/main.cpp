#include <cstdlib>

#include "daemon/cli.hpp"

int main(int argc, char** argv) {
  // libpq defaults, unless the operator chose: a connect attempt never hangs
  // for minutes, and the daemon's sessions are recognisable in pg_stat_activity.
  setenv("PGCONNECT_TIMEOUT", "5", 0);
  setenv("PGAPPNAME", "effectd", 0);
  return effectd::daemon::runCli(argc, argv);
}
