#include "tests/support/daemon.hpp"

#include <signal.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>
#include <stdexcept>
#include <thread>

namespace effectd::testing {

std::string effectdBinary() {
  return EFFECTD_BIN_PATH;
}

std::int64_t unixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Daemon::Daemon(EnvOverrides env, std::vector<std::string> wrapper)
    : dir_(tempDirectory("effectd-daemon-")) {
  EnvOverrides full{{"EFFECTD_LISTEN", "127.0.0.1:0"},
                    {"EFFECTD_ADMIN_LISTEN", "127.0.0.1:0"},
                    {"EFFECTD_LOG_FORMAT", "json"},
                    {"EFFECTD_LOG_LEVEL", "debug"},
                    {"STRIPE_WEBHOOK_SECRET", "whsec_e2e_default"},
                    {"EMAIL_PROVIDER", "file"},
                    {"ANALYTICS_PROVIDER", "log"},
                    {"EMAIL_FILE_DIR", dir_ + "/mail"},
                    {"EFFECTD_POLL_INTERVAL_MS", "200"}};
  for (auto& [k, v] : env) full[k] = v;
  wrapper.push_back(effectdBinary());
  wrapper.emplace_back("serve");
  child_ = std::make_unique<ChildProcess>(wrapper, full, dir_ + "/effectd.log");
  // The daemon logs the port it bound; port 0 avoids racing other tests.
  static const std::regex listening(R"("msg":"listening".*"port":(\d+))");
  static const std::regex adminListening(R"("msg":"admin listening".*"admin_port":(\d+))");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    std::smatch m;
    const auto text = child_->log();
    if (std::regex_search(text, m, listening)) {
      port_ = static_cast<std::uint16_t>(std::stoi(m[1]));
      // Logged before "listening", when the admin listener is on.
      if (std::regex_search(text, m, adminListening)) {
        adminPort_ = static_cast<std::uint16_t>(std::stoi(m[1]));
      }
      return;
    }
    if (!child_->running()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  throw std::runtime_error("effectd did not start listening; its log:\n" + child_->log());
}

Daemon::~Daemon() {
  child_->stop(SIGTERM, std::chrono::seconds(10));
  child_.reset();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

daemon::HttpAnswer Daemon::get(const std::string& target) {
  daemon::HttpCall call;
  call.port = port_;
  call.method = "GET";
  call.target = target;
  return daemon::httpCall(call);
}

daemon::HttpAnswer Daemon::admin(const std::string& method, const std::string& target,
                                 const std::vector<std::pair<std::string, std::string>>& headers,
                                 const std::string& body) {
  daemon::HttpCall call;
  call.port = adminPort_;
  call.method = method;
  call.target = target;
  call.headers = headers;
  call.body = body;
  return daemon::httpCall(call);
}

std::optional<double> Daemon::metric(std::string_view sample) {
  const auto answer = admin("GET", "/metrics");
  if (answer.status != 200) return std::nullopt;
  const std::string line = std::string(sample) + " ";
  for (std::size_t at = 0; at < answer.body.size();) {
    const auto end = std::min(answer.body.find('\n', at), answer.body.size());
    if (answer.body.compare(at, line.size(), line) == 0) {
      return std::stod(answer.body.substr(at + line.size(), end - at - line.size()));
    }
    at = end + 1;
  }
  return std::nullopt;
}

daemon::HttpAnswer Daemon::postWebhook(const std::string& body, const std::string& signature) {
  daemon::HttpCall call;
  call.port = port_;
  call.target = "/webhooks/stripe";
  call.headers = {{"Content-Type", "application/json"}};
  if (!signature.empty()) call.headers.emplace_back("Stripe-Signature", signature);
  call.body = body;
  return daemon::httpCall(call);
}

StripeSigner::StripeSigner() : node_({"node", EFFECTD_SOURCE_DIR "/tests/node/sign.mjs"}) {}

std::string StripeSigner::sign(const std::string& payload, const std::string& secret) {
  node_.writeLine(nlohmann::json{{"payload", payload}, {"secret", secret}}.dump());
  return node_.readLine();
}

std::string StripeSigner::sign(const std::string& payload, const std::string& secret,
                               std::int64_t timestamp) {
  node_.writeLine(
      nlohmann::json{{"payload", payload}, {"secret", secret}, {"timestamp", timestamp}}.dump());
  return node_.readLine();
}

std::string eventJson(const std::string& id, const std::string& type, const std::string& objectJson,
                      std::int64_t created, bool livemode) {
  nlohmann::json event{{"id", id},
                       {"object", "event"},
                       {"api_version", "2025-03-31.basil"},
                       {"created", created},
                       {"livemode", livemode},
                       {"pending_webhooks", 1},
                       {"type", type},
                       {"data", {{"object", nlohmann::json::parse(objectJson)}}}};
  return event.dump();
}

}  // namespace effectd::testing
