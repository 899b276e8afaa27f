// A local stand-in for an HTTP provider (tests/standin/provider.py): records
// what it receives and answers from a scripted plan.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/support/process.hpp"

namespace effectd::testing {

class ProviderStandIn {
 public:
  struct Options {
    std::string certFile;  // TLS when set
    std::string keyFile;
    std::string webhookSecret;
  };
  explicit ProviderStandIn(Options options = {});
  ~ProviderStandIn();
  std::uint16_t port() const { return port_; }
  std::string url(const std::string& host = "127.0.0.1") const;
  // Responses for the next requests, in order.
  void plan(const nlohmann::json& responses);
  std::vector<nlohmann::json> requests() const;

 private:
  std::string dir_;
  bool tls_ = false;
  std::unique_ptr<ChildProcess> process_;
  std::uint16_t port_ = 0;
};

}  // namespace effectd::testing
