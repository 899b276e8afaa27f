#include "daemon/open_files.hpp"

#include "daemon/admin/admin_site.hpp"

#include <sys/resource.h>

#include <algorithm>

namespace effectd::daemon {
namespace {

constexpr long kAdminConnections = kAdminMaxConnections;
// The fewest public connections worth serving with: below this the limit is
// a misconfiguration, said so, and served with anyway.
constexpr int kLeastConnections = 16;

}  // namespace

long reservedDescriptors(const config::Config& c) {
  // The writers, and one each for the drainer's claims and completions, its
  // LISTEN, the health check, the event retrier, maintenance, the admin
  // worker, the live feed and the schema comparison; each doubled for the
  // call deadline's duplicate of its socket.
  const long database = 2L * (c.databasePoolSize + 10);
  // A delivery holds a socket and may resolve a name meanwhile.
  const long deliveries = 2L * c.drainConcurrency;
  // stdio, epoll, eventfds, timers, signal pipes, mail files, certificates.
  constexpr long process = 64;
  return database + deliveries + kAdminConnections + process;
}

OpenFilesBudget fitOpenFiles(const config::Config& c, RaiseLimit raise) {
  OpenFilesBudget b;
  b.reserved = reservedDescriptors(c);
  b.maxConnections = c.maxConnections;
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return b;
  const auto finite = [](rlim_t v) {
    return v == RLIM_INFINITY ? 1L << 20 : static_cast<long>(std::min<rlim_t>(v, 1L << 20));
  };
  b.softBefore = finite(limit.rlim_cur);
  b.hard = finite(limit.rlim_max);
  b.soft = b.softBefore;
  const long needed = b.reserved + c.maxConnections;
  if (b.soft < needed && b.soft < b.hard) {
    if (raise == RaiseLimit::No) {
      b.soft = b.hard;  // what serve will find after raising it
      b.note = "this shell's open-files soft limit " + std::to_string(b.softBefore) +
               " is raised by serve to the hard limit " + std::to_string(b.hard);
    } else {
      limit.rlim_cur = limit.rlim_max;
      const bool raised = ::setrlimit(RLIMIT_NOFILE, &limit) == 0;
      if (raised) b.soft = b.hard;
      b.note = "open-files soft limit " + std::to_string(b.softBefore) +
               (raised ? " raised to the hard limit " : " could not be raised to the hard limit ") +
               std::to_string(b.hard);
    }
  }
  if (b.soft < needed) {
    b.maxConnections = static_cast<int>(
        std::min<long>(c.maxConnections, std::max<long>(kLeastConnections, b.soft - b.reserved)));
    if (!b.note.empty()) b.note += "; ";
    // Never below a handful: too few files for even those is the
    // operator's to fix, and said so.
    const bool fits = b.maxConnections + b.reserved <= b.soft;
    b.note += (b.maxConnections < c.maxConnections
                   ? "EFFECTD_MAX_CONNECTIONS lowered from " + std::to_string(c.maxConnections) +
                         " to " + std::to_string(b.maxConnections)
                   : "EFFECTD_MAX_CONNECTIONS " + std::to_string(c.maxConnections) + " kept") +
              (fits ? ": " : " but does not fit: ") + "the open-files limit is " +
              std::to_string(b.soft) + " and effectd keeps " + std::to_string(b.reserved) +
              " for its database connections, deliveries and itself (raise LimitNOFILE= or the "
              "container's nofile ulimit)";
  }
  return b;
}

}  // namespace effectd::daemon
