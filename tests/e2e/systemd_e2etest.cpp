// effectd under systemd's notify protocol, as the unit runs it
// (Type=notify, WatchdogSec=): the real binary with a NOTIFY_SOCKET of the
// test's own must say READY once it serves, WATCHDOG while it runs, and
// STOPPING at SIGTERM, before it exits 0.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "tests/support/daemon.hpp"
#include "tests/support/database.hpp"
#include "tests/support/eventually.hpp"

namespace effectd::testing {
namespace {

// A datagram socket that collects what sd_notify sends.
class NotifySocket {
 public:
  NotifySocket() : path_(tempDirectory("effectd-notify-") + "/notify") {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path_.c_str());
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      throw std::runtime_error("cannot bind " + path_);
    }
  }
  ~NotifySocket() {
    close(fd_);
    std::error_code ec;
    std::filesystem::remove_all(std::filesystem::path(path_).parent_path(), ec);
  }
  const std::string& path() const { return path_; }

  // Every message received so far, in order.
  const std::vector<std::string>& messages() {
    char buffer[4096];
    for (;;) {
      const auto n = recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) break;
      messages_.emplace_back(buffer, static_cast<std::size_t>(n));
    }
    return messages_;
  }
  bool received(const std::string& needle) {
    for (const auto& m : messages()) {
      if (m.find(needle) != std::string::npos) return true;
    }
    return false;
  }

 private:
  std::string path_;
  int fd_ = -1;
  std::vector<std::string> messages_;
};

TEST(SystemdE2eTest, ServeSaysReadyKeepsTheWatchdogFedAndSaysStoppingAtSigterm) {
  TestDatabase db;
  NotifySocket notify;
  Daemon daemon({{"DATABASE_URL", db.url()},
                 {"NOTIFY_SOCKET", notify.path()},
                 // 400 ms: effectd pings every half of it.
                 {"WATCHDOG_USEC", "400000"}});
  ASSERT_TRUE(eventually([&] { return notify.received("READY=1"); }, std::chrono::seconds(10)))
      << daemon.log();
  // READY comes when it serves: the listener answers by then.
  EXPECT_EQ(daemon.get("/healthz").status, 200);
  ASSERT_TRUE(eventually(
      [&] {
        int pings = 0;
        for (const auto& m : notify.messages()) pings += m == "WATCHDOG=1";
        return pings >= 3;
      },
      std::chrono::seconds(10)));
  EXPECT_FALSE(notify.received("STOPPING=1"));

  EXPECT_EQ(daemon.process().stop(SIGTERM, std::chrono::seconds(20)), 0) << daemon.log();
  EXPECT_TRUE(notify.received("STOPPING=1"));
  // In that order: nothing after STOPPING says it is ready again.
  const auto& all = notify.messages();
  const auto ready = std::find_if(
      all.begin(), all.end(), [](const auto& m) { return m.find("READY=1") != std::string::npos; });
  const auto stopping = std::find_if(all.begin(), all.end(), [](const auto& m) {
    return m.find("STOPPING=1") != std::string::npos;
  });
  EXPECT_LT(ready - all.begin(), stopping - all.begin());
}

}  // namespace
}  // namespace effectd::testing
