// Outgoing webhooks through the real daemon: a payload names the URL, so the
// operator's settings decide where effectd may connect. Plain http, a port
// not listed, or a name that resolves to a loopback or private address are
// refused for good (the effect is dead) and the receiver gets nothing.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <thread>

#include "tests/support/daemon.hpp"
#include "tests/support/database.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/standin.hpp"

namespace effectd::testing {
namespace {

const std::string kSigningSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
// The stand-ins listen on 127.0.0.1, which only an explicit allowance reaches.
const std::string kLoopback = "127.0.0.0/8,::1/128";

void enqueueWebhook(TestDatabase& db, const std::string& key, const std::string& url) {
  pqxx::work tx(db.conn());
  tx.exec_params(R"(INSERT INTO "OutboundEffect" ("key", "kind", "payload")
                    VALUES ($1, 'webhook', $2::jsonb))",
                 key, nlohmann::json{{"url", url}, {"body", {{"type", "ping"}}}}.dump());
  tx.commit();
}

std::string column(TestDatabase& db, const std::string& name, const std::string& key) {
  return db.scalar("SELECT \"" + name + R"(" FROM "OutboundEffect" WHERE "key" = ')" + key + "'");
}

// Waits until the effect leaves pending/running, and returns its status.
std::string settledStatus(TestDatabase& db, const std::string& key) {
  eventually(
      [&] {
        const auto s = column(db, "status", key);
        return s != "pending" && s != "running";
      },
      std::chrono::seconds(15));
  return column(db, "status", key);
}

EnvOverrides webhookEnv(TestDatabase& db, EnvOverrides webhook) {
  EnvOverrides env{{"DATABASE_URL", db.url()}, {"WEBHOOK_SIGNING_SECRET", kSigningSecret}};
  for (auto& [k, v] : webhook) env[k] = v;
  return env;
}

std::string port(const ProviderStandIn& standIn) {
  const auto url = standIn.url();
  return url.substr(url.rfind(':') + 1);
}

TEST(WebhookSsrfE2eTest, PlainHttpToAnAllowedHostIsRefusedUnlessMarkedForHttp) {
  TestDatabase db;
  ProviderStandIn standIn;  // plain http on 127.0.0.1
  Daemon daemon(webhookEnv(db, {{"WEBHOOK_ALLOWED_HOSTS", "127.0.0.1,127.0.0.1:" + port(standIn)},
                                {"WEBHOOK_ALLOW_PRIVATE_ADDRESSES", kLoopback}}));
  enqueueWebhook(db, "webhook:http:1", standIn.url() + "/hook");
  EXPECT_EQ(settledStatus(db, "webhook:http:1"), "dead") << daemon.log();
  EXPECT_NE(column(db, "lastError", "webhook:http:1").find("WEBHOOK_ALLOW_HTTP_HOSTS"),
            std::string::npos)
      << column(db, "lastError", "webhook:http:1");
  EXPECT_TRUE(standIn.requests().empty());
}

TEST(WebhookSsrfE2eTest, AUrlThatWouldWriteHeadersIntoTheRequestIsRefused) {
  TestDatabase db;
  ProviderStandIn standIn;
  Daemon daemon(webhookEnv(db, {{"WEBHOOK_ALLOW_HTTP_HOSTS", "127.0.0.1:" + port(standIn)},
                                {"WEBHOOK_ALLOW_PRIVATE_ADDRESSES", kLoopback}}));
  enqueueWebhook(db, "webhook:split:1",
                 standIn.url() + "/x HTTP/1.1\r\nHost: internal.svc\r\n\r\nGET /admin");
  EXPECT_EQ(settledStatus(db, "webhook:split:1"), "dead") << daemon.log();
  EXPECT_TRUE(standIn.requests().empty());
}

TEST(WebhookSsrfE2eTest, HttpsToAnAllowedHostOnAPortNotListedIsRefused) {
  TestCertificates certs;
  ProviderStandIn standIn(
      {.certFile = certs.dir + "/good.pem", .keyFile = certs.dir + "/good.key"});
  TestDatabase db;
  // "localhost" alone allows port 443 only.
  Daemon daemon(webhookEnv(db, {{"WEBHOOK_ALLOWED_HOSTS", "localhost"},
                                {"WEBHOOK_ALLOW_PRIVATE_ADDRESSES", kLoopback},
                                {"EFFECTD_CA_FILE", certs.dir + "/ca.pem"}}));
  enqueueWebhook(db, "webhook:port:1", standIn.url("localhost") + "/hook");
  EXPECT_EQ(settledStatus(db, "webhook:port:1"), "dead") << daemon.log();
  EXPECT_NE(column(db, "lastError", "webhook:port:1").find("localhost:" + port(standIn)),
            std::string::npos)
      << column(db, "lastError", "webhook:port:1");
  EXPECT_TRUE(standIn.requests().empty());
}

// The host and port are allowed, but the name resolves to a loopback
// address: checked on the address actually connected to, it is refused.
TEST(WebhookSsrfE2eTest, AnAllowedNameResolvingToLoopbackIsRefusedWithoutTheAllowance) {
  TestCertificates certs;
  ProviderStandIn standIn(
      {.certFile = certs.dir + "/good.pem", .keyFile = certs.dir + "/good.key"});
  TestDatabase db;
  const auto mapped = "[::ffff:127.0.0.1]:" + port(standIn);
  Daemon daemon(webhookEnv(
      db, {{"WEBHOOK_ALLOWED_HOSTS", "localhost,localhost:" + port(standIn) + "," + mapped},
           {"EFFECTD_CA_FILE", certs.dir + "/ca.pem"}}));
  enqueueWebhook(db, "webhook:loopback:1", standIn.url("localhost") + "/hook");
  EXPECT_EQ(settledStatus(db, "webhook:loopback:1"), "dead") << daemon.log();
  const auto error = column(db, "lastError", "webhook:loopback:1");
  EXPECT_NE(error.find("127.0.0.1 (loopback)"), std::string::npos) << error;
  EXPECT_NE(error.find("WEBHOOK_ALLOW_PRIVATE_ADDRESSES"), std::string::npos) << error;
  // An IPv4-mapped IPv6 literal of the same address is no way around it.
  enqueueWebhook(db, "webhook:loopback:2", "https://" + mapped + "/hook");
  EXPECT_EQ(settledStatus(db, "webhook:loopback:2"), "dead") << daemon.log();
  EXPECT_NE(column(db, "lastError", "webhook:loopback:2").find("loopback, IPv4-mapped"),
            std::string::npos)
      << column(db, "lastError", "webhook:loopback:2");
  EXPECT_TRUE(standIn.requests().empty());
}

TEST(WebhookSsrfE2eTest, WithTheAllowancesWebhooksAreDeliveredAndSigned) {
  TestCertificates certs;
  ProviderStandIn tls({.certFile = certs.dir + "/good.pem",
                       .keyFile = certs.dir + "/good.key",
                       .webhookSecret = kSigningSecret});
  ProviderStandIn plain({.webhookSecret = kSigningSecret});
  TestDatabase db;
  Daemon daemon(webhookEnv(db, {{"WEBHOOK_ALLOWED_HOSTS", "localhost:" + port(tls)},
                                {"WEBHOOK_ALLOW_HTTP_HOSTS", "127.0.0.1:" + port(plain)},
                                {"WEBHOOK_ALLOW_PRIVATE_ADDRESSES", kLoopback},
                                {"EFFECTD_CA_FILE", certs.dir + "/ca.pem"}}));
  enqueueWebhook(db, "webhook:ok:https", tls.url("localhost") + "/hooks/billing");
  enqueueWebhook(db, "webhook:ok:http", plain.url() + "/hooks/billing");
  EXPECT_EQ(settledStatus(db, "webhook:ok:https"), "sent")
      << column(db, "lastError", "webhook:ok:https") << "\n"
      << daemon.log();
  EXPECT_EQ(settledStatus(db, "webhook:ok:http"), "sent")
      << column(db, "lastError", "webhook:ok:http") << "\n"
      << daemon.log();
  for (const auto* standIn : {&tls, &plain}) {
    const auto requests = standIn->requests();
    ASSERT_EQ(requests.size(), 1u);
    EXPECT_EQ(requests[0]["path"], "/hooks/billing");
    EXPECT_EQ(requests[0]["signatureValid"], true) << requests[0].dump();
  }
  EXPECT_EQ(tls.requests()[0]["headers"]["webhook-id"], "webhook:ok:https");
}

TEST(WebhookSsrfE2eTest, ConfigCheckShowsTheWebhookSettings) {
  const auto r = runCommand({effectdBinary(), "config", "check"},
                            {{"DATABASE_URL", "postgresql://u@h/db"},
                             {"STRIPE_WEBHOOK_SECRET", "whsec_x"},
                             {"EMAIL_PROVIDER", "file"},
                             {"ANALYTICS_PROVIDER", "log"},
                             {"WEBHOOK_ALLOWED_HOSTS", "hooks.example.com, [2001:DB8::1]:8443"},
                             {"WEBHOOK_ALLOW_HTTP_HOSTS", "intranet.local"},
                             {"WEBHOOK_ALLOW_PRIVATE_ADDRESSES", "10.1.0.0/16"}});
  EXPECT_EQ(r.exitCode, 0) << r.output;
  EXPECT_NE(r.output.find("hooks.example.com:443,[2001:db8::1]:8443"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("WEBHOOK_ALLOW_HTTP_HOSTS"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("intranet.local:80"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("10.1.0.0/16"), std::string::npos) << r.output;

  const auto bad = runCommand({effectdBinary(), "config", "check"},
                              {{"DATABASE_URL", "postgresql://u@h/db"},
                               {"STRIPE_WEBHOOK_SECRET", "whsec_x"},
                               {"WEBHOOK_ALLOWED_HOSTS", "hooks.example.com:99999"},
                               {"WEBHOOK_ALLOW_PRIVATE_ADDRESSES", "10.1.0.0/33"}});
  EXPECT_NE(bad.exitCode, 0) << bad.output;
  EXPECT_NE(bad.output.find("WEBHOOK_ALLOWED_HOSTS"), std::string::npos) << bad.output;
  EXPECT_NE(bad.output.find("WEBHOOK_ALLOW_PRIVATE_ADDRESSES"), std::string::npos) << bad.output;
}

}  // namespace
}  // namespace effectd::testing
