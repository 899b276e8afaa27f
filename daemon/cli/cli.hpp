// The command line: `effectd <command>`. Returns the process exit code:
// 0 success, 1 failure, 2 bad usage or configuration.
#pragma once

namespace effectd::daemon {

int runCli(int argc, char** argv);

}  // namespace effectd::daemon
