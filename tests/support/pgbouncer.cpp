#include "tests/support/pgbouncer.hpp"

#include <stdexcept>

#include "tests/support/database.hpp"
#include "tests/support/process.hpp"

namespace effectd::testing {
namespace {
const std::string kScript = EFFECTD_SOURCE_DIR "/deploy/dev/pgbouncer.sh";
}

PgBouncer::PgBouncer(const std::string& upstreamUrl, int poolSize)
    : dir_(tempDirectory("effectd-pgbouncer-")),
      upstreamPort_(std::to_string(portOf(upstreamUrl))),
      poolSize_(std::to_string(poolSize)) {
  start();
}

PgBouncer::~PgBouncer() {
  stop();
  runCommand({"rm", "-rf", dir_});
}

void PgBouncer::start() {
  const auto result = runCommand({kScript, "start", dir_, upstreamPort_, poolSize_});
  if (result.exitCode != 0) throw std::runtime_error("pgbouncer.sh start failed: " + result.output);
  port_ = static_cast<std::uint16_t>(std::stoi(result.output));
}

void PgBouncer::stop() {
  runCommand({kScript, "stop", dir_});
}

std::string PgBouncer::through(const std::string& url) const {
  return throughPort(url, port_);
}

std::string PgBouncer::admin(const std::string& command) const {
  const auto result = runCommand({kScript, "admin", dir_, command});
  if (result.exitCode != 0) throw std::runtime_error(command + " failed: " + result.output);
  return result.output;
}

}  // namespace effectd::testing
