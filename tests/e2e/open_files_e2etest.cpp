// The open-files limit of a container (1024, soft and hard): effectd keeps
// descriptors for its own needs by lowering its public connection cap, so
// that silent connections, more than the limit, neither stop a genuine
// webhook nor the database reconnects after the server drops every
// connection. (With 1,000 the daemon's own two dozen descriptors still fit
// beside them; 1,200 leave no room unless the cap keeps some.)
#include <gtest/gtest.h>

#include <sys/resource.h>

#include <memory>
#include <vector>

#include "tests/support/daemon.hpp"
#include "tests/support/database.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/raw_connection.hpp"

namespace effectd::testing {
namespace {

const std::string kSecret = "whsec_open_files";

TEST(OpenFilesE2eTest, AtALimitOf1024SilentConnectionsBeyondItLeaveRoomForWebhooksAndReconnects) {
  // This test holds a thousand sockets itself.
  rlimit own{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &own), 0);
  own.rlim_cur = own.rlim_max;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &own), 0);
  ASSERT_GE(own.rlim_cur, 2048U) << "the test needs room for its own sockets";

  TestDatabase db;
  Daemon daemon({{"DATABASE_URL", db.url()},
                 {"STRIPE_WEBHOOK_SECRET", kSecret},
                 // Silent connections stay until the test lets them go.
                 {"EFFECTD_READ_TIMEOUT", "120"},
                 {"EFFECTD_IDLE_TIMEOUT", "120"}},
                {"prlimit", "--nofile=1024:1024", "--"});
  EXPECT_NE(daemon.log().find("EFFECTD_MAX_CONNECTIONS lowered from 1024 to"), std::string::npos)
      << daemon.log();
  StripeSigner signer;
  auto post = [&](const std::string& id) {
    const auto body =
        eventJson(id, "customer.subscription.updated",
                  R"({"id":"sub_nofile","object":"subscription","status":"active"})", unixNow());
    return daemon.postWebhook(body, signer.sign(body, kSecret));
  };
  ASSERT_TRUE(
      eventually([&] { return daemon.get("/readyz").status == 200; }, std::chrono::seconds(10)));

  std::vector<std::unique_ptr<RawConnection>> silent;
  for (int i = 0; i < 1200; ++i) silent.push_back(std::make_unique<RawConnection>(daemon.port()));

  // A genuine webhook makes a silent connection give way.
  const auto first = post("evt_nofile_1");
  EXPECT_EQ(first.status, 200) << first.body << first.error;

  // PostgreSQL drops every connection of the daemon: it must open new ones
  // with descriptors that silent clients have not taken.
  runCommand({"psql", db.url(), "-tAc",
              "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
              "WHERE datname = current_database() AND pid <> pg_backend_pid()"});
  EXPECT_TRUE(
      eventually([&] { return post("evt_nofile_2").status == 200; }, std::chrono::seconds(20)))
      << daemon.log();
  EXPECT_EQ(db.scalar(R"(SELECT count(*) FROM "StripeWebhookEvent")"), "2");
  const auto log = daemon.log();
  EXPECT_EQ(log.find("Too many open files"), std::string::npos) << log;
  silent.clear();
}

}  // namespace
}  // namespace effectd::testing
