// The real effectd binary, started for a test with its own configuration.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/http_post.hpp"
#include "tests/support/process.hpp"

namespace effectd::testing {

std::string effectdBinary();

class Daemon {
 public:
  // Starts `effectd serve` on a port the kernel picks and waits until it
  // listens. `env` adds to or overrides the defaults (DATABASE_URL must be set).
  // `wrapper` runs it (prlimit --nofile=1024:1024 --, say).
  explicit Daemon(EnvOverrides env, std::vector<std::string> wrapper = {});
  ~Daemon();

  std::uint16_t port() const { return port_; }
  std::uint16_t adminPort() const { return adminPort_; }  // 0 when EFFECTD_ADMIN_LISTEN=off
  std::string log() const { return child_->log(); }
  std::string mailDirectory() const { return dir_ + "/mail"; }
  ChildProcess& process() { return *child_; }

  daemon::HttpAnswer get(const std::string& target);
  daemon::HttpAnswer postWebhook(const std::string& body, const std::string& signature);
  // A request to the admin listener.
  daemon::HttpAnswer admin(const std::string& method, const std::string& target,
                           const std::vector<std::pair<std::string, std::string>>& headers = {},
                           const std::string& body = {});
  // One sample of the admin listener's /metrics, spelled as it is there
  // (`effectd_http_connections{listener="public"}`); none when absent.
  std::optional<double> metric(std::string_view sample);

 private:
  std::string dir_;
  std::unique_ptr<ChildProcess> child_;
  std::uint16_t port_ = 0;
  std::uint16_t adminPort_ = 0;
};

// Signs payloads with Stripe's own SDK (stripe.webhooks.generateTestHeaderString),
// through one long-running node process.
class StripeSigner {
 public:
  StripeSigner();
  std::string sign(const std::string& payload, const std::string& secret);
  std::string sign(const std::string& payload, const std::string& secret, std::int64_t timestamp);

 private:
  PipedProcess node_;
};

// A Stripe event envelope with the given id, type and data.object.
std::string eventJson(const std::string& id, const std::string& type, const std::string& objectJson,
                      std::int64_t created, bool livemode = false);
std::int64_t unixNow();

}  // namespace effectd::testing
