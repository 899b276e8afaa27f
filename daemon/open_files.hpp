// The open-files limit against what serve needs. Each public connection is a
// descriptor, and so is each database connection (twice while a call
// deadline is armed), each delivery's socket, the admin listener's
// connections, epoll, timers and logs. Where the soft limit is below
// EFFECTD_MAX_CONNECTIONS plus effectd's own needs (1024 is common in
// containers), silent clients would take the last descriptors and the daemon
// could neither accept a genuine webhook nor reconnect to its database.
// serve raises the soft limit to the hard one at start and, if that is still
// short, lowers the public connection cap so that its own share stays free.
#pragma once

#include <string>

#include "config/config.hpp"

namespace effectd::daemon {

struct OpenFilesBudget {
  long softBefore = 0;  // the soft limit found
  long soft = 0;        // the soft limit now (raised, when asked and possible)
  long hard = 0;
  long reserved = 0;       // descriptors kept for effectd's own needs
  int maxConnections = 0;  // the public connection cap that fits
  // For the log and `config check`; empty when nothing needed changing.
  std::string note;
};

enum class RaiseLimit { Yes, No };

// Reads RLIMIT_NOFILE and, with RaiseLimit::Yes, raises the soft limit to the
// hard one (serve); with No it reports what serve would do (config check).
OpenFilesBudget fitOpenFiles(const config::Config& config, RaiseLimit raise);

// What effectd needs beside its public connections, from the settings.
long reservedDescriptors(const config::Config& config);

}  // namespace effectd::daemon
