// A real PgBouncer (Debian's) in transaction mode in front of the test
// cluster, started with deploy/dev/pgbouncer.sh: every database of the cluster
// under its own name, with a pool of `poolSize` server connections per
// database, smaller than a daemon's own connections, so that its
// transactions really share server connections.
#pragma once

#include <cstdint>
#include <string>

namespace effectd::testing {

class PgBouncer {
 public:
  // In front of the cluster that serves `upstreamUrl`.
  explicit PgBouncer(const std::string& upstreamUrl, int poolSize = 2);
  ~PgBouncer();
  PgBouncer(const PgBouncer&) = delete;
  PgBouncer& operator=(const PgBouncer&) = delete;

  std::uint16_t port() const { return port_; }
  // `url` (a database of the upstream cluster) through the pooler.
  std::string through(const std::string& url) const;
  // A command of PgBouncer's admin console (SHOW POOLS, PAUSE, RESUME...):
  // its rows, one per line, columns separated by '|'.
  std::string admin(const std::string& command) const;
  void stop();
  void start();

 private:
  std::string dir_;
  std::string upstreamPort_;
  std::string poolSize_;
  std::uint16_t port_ = 0;
};

}  // namespace effectd::testing
