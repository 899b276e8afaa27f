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
  // The connections it has closed, by the client's port (a request's "connection").
  std::vector<int> closedConnections() const;
  // While on, every request is answered 503 (an outage of any length).
  void unavailable(bool on);

 private:
  std::string dir_;
  bool tls_ = false;
  std::unique_ptr<ChildProcess> process_;
  std::uint16_t port_ = 0;
};

// Every kind of answer a provider gives that is not a success, in this
// order: 400 "invalid to", 401, 409, 429 with Retry-After: 7, 500, a 3 s
// hang, a dropped connection.
nlohmann::json failingAnswers();

// A test CA with certificates for localhost/127.0.0.1 ("good"), for another
// host name ("wrong"), and a self-signed one for localhost ("rogue"): each
// as <dir>/<name>.pem and .key, the CA as <dir>/ca.pem.
struct TestCertificates {
  TestCertificates();
  ~TestCertificates();
  TestCertificates(const TestCertificates&) = delete;
  TestCertificates& operator=(const TestCertificates&) = delete;
  std::string dir;
};

// A TCP proxy (tests/standin/tcp_proxy.py) to a local port that can turn into
// a black hole: while it is one, it moves no byte and closes nothing, like a
// route that drops packets without a reset.
class BlackHoleProxy {
 public:
  explicit BlackHoleProxy(std::uint16_t target);
  ~BlackHoleProxy();
  BlackHoleProxy(const BlackHoleProxy&) = delete;
  BlackHoleProxy& operator=(const BlackHoleProxy&) = delete;
  std::uint16_t port() const { return port_; }
  void blackHole(bool on);

 private:
  std::string dir_;
  std::unique_ptr<ChildProcess> process_;
  std::uint16_t port_ = 0;
};

// A real SMTP server (tests/standin/smtp.py, aiosmtpd) requiring STARTTLS
// and AUTH, or implicit TLS; `flags` are the script's.
class SmtpServer {
 public:
  explicit SmtpServer(const std::string& certDir, std::vector<std::string> flags = {});
  ~SmtpServer();
  SmtpServer(const SmtpServer&) = delete;
  SmtpServer& operator=(const SmtpServer&) = delete;
  std::uint16_t port() const { return port_; }
  // The messages whose DATA it received, in order.
  std::vector<nlohmann::json> messages() const;

 private:
  std::string dir_;
  std::unique_ptr<ChildProcess> process_;
  std::uint16_t port_ = 0;
};

}  // namespace effectd::testing
