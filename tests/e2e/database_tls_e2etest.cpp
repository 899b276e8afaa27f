// TLS to PostgreSQL, as every managed provider requires it: a throwaway
// cluster with a certificate from a test CA. verify-full with the CA serves
// and encrypts every connection the daemon opens; a host name the
// certificate does not name is refused (and said so); sslmode=require works
// without the CA; and a TLS connection that turns into a black hole is still
// cut by the call deadline, and a reconnect into it by the connect timeout.
#include <gtest/gtest.h>

#include <signal.h>

#include <thread>

#include "tests/support/daemon.hpp"
#include "tests/support/database.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/standin.hpp"

namespace effectd::testing {
namespace {

const std::string kSecret = "whsec_tls";

class DatabaseTlsE2eTest : public ::testing::Test {
 protected:
  TestCertificates certs_;
  TestCluster cluster_{{"--tls", certs_.dir + "/good"}};

  // The cluster's `effectd` database at `host`:`port` with libpq's `params`.
  std::string url(const std::string& host, std::uint16_t port, const std::string& params) const {
    return "postgresql://postgres@" + host + ":" + std::to_string(port) + "/effectd?" + params;
  }
  std::string verifyFull(std::uint16_t port) const {
    return url("localhost", port, "sslmode=verify-full&sslrootcert=" + certs_.dir + "/ca.pem");
  }
  std::uint16_t port() const { return portOf(cluster_.url()); }

  // The daemon's connections that are not encrypted, and those that are
  // (this query's own connection left out).
  std::pair<std::string, std::string> connections() {
    const auto r = runCommand(
        {"psql", cluster_.url() + "?sslmode=disable", "-tAc",
         R"(SELECT count(*) FILTER (WHERE NOT s.ssl) || ' ' || count(*) FILTER (WHERE s.ssl)
            FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
            WHERE a.datname = 'effectd' AND a.backend_type = 'client backend'
              AND a.pid <> pg_backend_pid())"});
    const auto space = r.output.find(' ');
    if (space == std::string::npos) return {r.output, ""};
    return {r.output.substr(0, space), r.output.substr(space + 1, r.output.find('\n') - space - 1)};
  }

  daemon::HttpAnswer post(Daemon& daemon, StripeSigner& signer, const std::string& id) {
    const auto body =
        eventJson(id, "customer.subscription.updated",
                  R"({"id":"sub_tls","object":"subscription","status":"active"})", unixNow());
    return daemon.postWebhook(body, signer.sign(body, kSecret));
  }
};

TEST_F(DatabaseTlsE2eTest, VerifyFullWithTheCaServesAndEveryConnectionIsEncrypted) {
  const auto migrate =
      runCommand({effectdBinary(), "migrate"}, {{"DATABASE_URL", verifyFull(port())}});
  ASSERT_EQ(migrate.exitCode, 0) << migrate.output;
  Daemon daemon({{"DATABASE_URL", verifyFull(port())}, {"STRIPE_WEBHOOK_SECRET", kSecret}});
  StripeSigner signer;
  ASSERT_TRUE(
      eventually([&] { return daemon.get("/readyz").status == 200; }, std::chrono::seconds(10)))
      << daemon.log();
  EXPECT_EQ(post(daemon, signer, "evt_tls_1").status, 200);
  const auto count = runCommand({"psql", cluster_.url() + "?sslmode=disable", "-tAc",
                                 R"(SELECT count(*) FROM "StripeWebhookEvent")"});
  EXPECT_EQ(count.output, "1\n");
  const auto [plain, encrypted] = connections();
  EXPECT_EQ(plain, "0") << "every connection of the daemon must be TLS";
  EXPECT_GE(std::stoi(encrypted), 2) << "the writers and the drainer at least";
}

TEST_F(DatabaseTlsE2eTest, AHostNameTheCertificateDoesNotNameIsRefused) {
  // The right address, a name the certificate does not carry.
  const auto wrong =
      url("db.wrong-name.test", port(),
          "hostaddr=127.0.0.1&sslmode=verify-full&sslrootcert=" + certs_.dir + "/ca.pem");
  const auto status =
      runCommand({effectdBinary(), "migrate", "--status"}, {{"DATABASE_URL", wrong}});
  EXPECT_NE(status.exitCode, 0);
  EXPECT_NE(status.output.find("does not match host name"), std::string::npos) << status.output;

  Daemon daemon({{"DATABASE_URL", wrong}, {"STRIPE_WEBHOOK_SECRET", kSecret}});
  EXPECT_EQ(daemon.get("/readyz").status, 503);
  StripeSigner signer;
  EXPECT_EQ(post(daemon, signer, "evt_tls_wrong").status, 503) << "never a 200 it cannot keep";
  EXPECT_TRUE(
      eventually([&] { return daemon.log().find("does not match host name") != std::string::npos; },
                 std::chrono::seconds(10)))
      << daemon.log();
}

TEST_F(DatabaseTlsE2eTest, RequireEncryptsWithoutTheCa) {
  ASSERT_EQ(
      runCommand({effectdBinary(), "migrate"}, {{"DATABASE_URL", verifyFull(port())}}).exitCode, 0);
  Daemon daemon({{"DATABASE_URL", url("127.0.0.1", port(), "sslmode=require")},
                 {"STRIPE_WEBHOOK_SECRET", kSecret}});
  StripeSigner signer;
  ASSERT_TRUE(
      eventually([&] { return daemon.get("/readyz").status == 200; }, std::chrono::seconds(10)))
      << daemon.log();
  EXPECT_EQ(post(daemon, signer, "evt_tls_require").status, 200);
  EXPECT_EQ(connections().first, "0");
}

TEST_F(DatabaseTlsE2eTest, ABlackHoledTlsConnectionIsCutByTheDeadlines) {
  ASSERT_EQ(
      runCommand({effectdBinary(), "migrate"}, {{"DATABASE_URL", verifyFull(port())}}).exitCode, 0);
  BlackHoleProxy proxy(port());
  Daemon daemon({{"DATABASE_URL", verifyFull(proxy.port())},
                 {"STRIPE_WEBHOOK_SECRET", kSecret},
                 {"EFFECTD_DB_TIMEOUT", "2"},
                 {"EFFECTD_SHUTDOWN_TIMEOUT", "3"}});
  StripeSigner signer;
  ASSERT_TRUE(
      eventually([&] { return daemon.get("/readyz").status == 200; }, std::chrono::seconds(10)))
      << daemon.log();
  ASSERT_EQ(post(daemon, signer, "evt_tls_before").status, 200);

  proxy.blackHole(true);
  // The test client gives up after 10 s: without the deadline it would see
  // no answer at all.
  const auto during = post(daemon, signer, "evt_tls_during");
  EXPECT_EQ(during.status, 503) << during.error << daemon.log();
  EXPECT_TRUE(
      eventually([&] { return daemon.get("/readyz").status == 503; }, std::chrono::seconds(10)))
      << daemon.log();
  // Reconnects into the black hole hang in the TLS handshake until libpq's
  // connect timeout (EFFECTD_DB_TIMEOUT unless the URL sets one) ends them.
  EXPECT_TRUE(eventually([&] { return daemon.log().find("timeout expired") != std::string::npos; },
                         std::chrono::seconds(20)))
      << daemon.log();

  proxy.blackHole(false);
  EXPECT_TRUE(
      eventually([&] { return daemon.get("/readyz").status == 200; }, std::chrono::seconds(20)))
      << daemon.log();
  EXPECT_TRUE(eventually([&] { return post(daemon, signer, "evt_tls_during").status == 200; },
                         std::chrono::seconds(20)));
  const auto count = runCommand({"psql", cluster_.url() + "?sslmode=disable", "-tAc",
                                 R"(SELECT count(*) FROM "StripeWebhookEvent")"});
  EXPECT_EQ(count.output, "2\n");

  proxy.blackHole(true);
  // Its health check has run into the hole.
  EXPECT_TRUE(
      eventually([&] { return daemon.get("/readyz").status == 503; }, std::chrono::seconds(20)))
      << daemon.log();
  EXPECT_EQ(daemon.process().stop(SIGTERM, std::chrono::seconds(15)), 0) << daemon.log();
  proxy.blackHole(false);
}

}  // namespace
}  // namespace effectd::testing
