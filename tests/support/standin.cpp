#include "tests/support/standin.hpp"

#include <signal.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace effectd::testing {
namespace {

// The stand-ins bind a port the kernel picks and write it to <dir>/port.
std::uint16_t portWrittenBy(ChildProcess& process, const std::string& dir) {
  for (int i = 0; i < 1000; ++i) {
    if (const auto text = readFile(dir + "/port"); !text.empty()) {
      return static_cast<std::uint16_t>(std::stoi(text));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  throw std::runtime_error("stand-in did not start: " + process.log());
}

// The records a stand-in wrote, one JSON object a line; a last line still
// being written (no newline yet) is not one yet.
std::vector<nlohmann::json> jsonLines(const std::string& path) {
  std::vector<nlohmann::json> out;
  const auto text = readFile(path);
  std::istringstream lines(text.substr(0, text.rfind('\n') + 1));
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  }
  return out;
}

}  // namespace

nlohmann::json failingAnswers() {
  return nlohmann::json::array({
      {{"status", 400}, {"body", {{"message", "invalid to"}}}},
      {{"status", 409}, {"body", {{"message", "concurrent idempotent request"}}}},
      {{"status", 429}, {"headers", {{"Retry-After", "7"}}}},
      {{"status", 500}},
      {{"hang", 3}},
      {{"drop", true}},
  });
}

ProviderStandIn::ProviderStandIn(Options options)
    : dir_(tempDirectory("effectd-standin-")), tls_(!options.certFile.empty()) {
  // Debian's python3, where python3-aiosmtpd and friends are installed.
  std::vector<std::string> argv{"/usr/bin/python3", EFFECTD_SOURCE_DIR "/tests/standin/provider.py",
                                "--dir", dir_};
  if (tls_) {
    argv.insert(argv.end(), {"--cert", options.certFile, "--key", options.keyFile});
  }
  if (!options.webhookSecret.empty()) {
    argv.insert(argv.end(), {"--webhook-secret", options.webhookSecret});
  }
  process_ = std::make_unique<ChildProcess>(argv, EnvOverrides{}, dir_ + "/standin.log");
  port_ = portWrittenBy(*process_, dir_);
}

ProviderStandIn::~ProviderStandIn() {
  process_->stop(SIGKILL, std::chrono::seconds(5));
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string ProviderStandIn::url(const std::string& host) const {
  return std::string(tls_ ? "https://" : "http://") + host + ":" + std::to_string(port_);
}

void ProviderStandIn::plan(const nlohmann::json& responses) {
  std::ofstream(dir_ + "/plan.json.tmp") << responses.dump();
  std::filesystem::rename(dir_ + "/plan.json.tmp", dir_ + "/plan.json");
}

std::vector<nlohmann::json> ProviderStandIn::requests() const {
  return jsonLines(dir_ + "/requests.jsonl");
}

std::vector<int> ProviderStandIn::closedConnections() const {
  std::vector<int> out;
  for (const auto& line : jsonLines(dir_ + "/closed.jsonl"))
    out.push_back(line["connection"].get<int>());
  return out;
}

void ProviderStandIn::unavailable(bool on) {
  if (on) {
    std::ofstream(dir_ + "/unavailable") << "on";
  } else {
    std::filesystem::remove(dir_ + "/unavailable");
  }
}

TestCertificates::TestCertificates() : dir(tempDirectory("effectd-certs-")) {
  auto run = [&](const std::string& command) {
    const auto r = runCommand({"/bin/sh", "-c", "cd " + dir + " && " + command});
    if (r.exitCode != 0) throw std::runtime_error(command + ": " + r.output);
  };
  run("openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 "
      "-subj '/CN=effectd test CA'");
  for (const auto& [name, san] : std::vector<std::pair<std::string, std::string>>{
           {"good", "DNS:localhost,IP:127.0.0.1"}, {"wrong", "DNS:wrong.example"}}) {
    run("openssl req -newkey rsa:2048 -nodes -keyout " + name + ".key -out " + name +
        ".csr -subj '/CN=" + name + "' -addext 'subjectAltName=" + san + "'");
    run("openssl x509 -req -in " + name + ".csr -CA ca.pem -CAkey ca.key -CAcreateserial -out " +
        name + ".pem -days 2 -copy_extensions copy");
  }
  run("openssl req -x509 -newkey rsa:2048 -nodes -keyout rogue.key -out rogue.pem -days 2 "
      "-subj '/CN=localhost' -addext 'subjectAltName=DNS:localhost'");
}

TestCertificates::~TestCertificates() {
  runCommand({"rm", "-rf", dir});
}

BlackHoleProxy::BlackHoleProxy(std::uint16_t target) : dir_(tempDirectory("effectd-proxy-")) {
  process_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{"/usr/bin/python3", EFFECTD_SOURCE_DIR "/tests/standin/tcp_proxy.py",
                               "--dir", dir_, "--target-port", std::to_string(target)},
      EnvOverrides{}, dir_ + "/proxy.log");
  port_ = portWrittenBy(*process_, dir_);
}

BlackHoleProxy::~BlackHoleProxy() {
  process_->stop(SIGKILL, std::chrono::seconds(5));
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void BlackHoleProxy::blackHole(bool on) {
  if (on) {
    std::ofstream(dir_ + "/blackhole") << "on";
  } else {
    std::filesystem::remove(dir_ + "/blackhole");
  }
}

SmtpServer::SmtpServer(const std::string& certDir, std::vector<std::string> flags)
    : dir_(tempDirectory("effectd-smtp-")) {
  std::vector<std::string> argv{"/usr/bin/python3",
                                EFFECTD_SOURCE_DIR "/tests/standin/smtp.py",
                                "--dir",
                                dir_,
                                "--cert",
                                certDir + "/good.pem",
                                "--key",
                                certDir + "/good.key"};
  argv.insert(argv.end(), flags.begin(), flags.end());
  process_ = std::make_unique<ChildProcess>(argv, EnvOverrides{}, dir_ + "/smtp.log");
  port_ = portWrittenBy(*process_, dir_);
}

SmtpServer::~SmtpServer() {
  process_->stop(SIGKILL, std::chrono::seconds(5));
  runCommand({"rm", "-rf", dir_});
}

std::vector<nlohmann::json> SmtpServer::messages() const {
  return jsonLines(dir_ + "/messages.jsonl");
}

}  // namespace effectd::testing
