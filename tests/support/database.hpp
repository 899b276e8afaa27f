// Real PostgreSQL for tests: a fresh database per test (on the cluster that
// `make test` started, named by EFFECTD_TEST_ADMIN_URL), or a whole cluster
// of its own for tests that stop and restart the server.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace pqxx {
class connection_base;
}

namespace effectd::testing {

// The admin URL of the test cluster; fails the test run when unset, since a
// database test that silently skips proves nothing.
std::string adminUrl();

class TestDatabase {
 public:
  enum class Schema { Migrated, Empty };
  explicit TestDatabase(Schema schema = Schema::Migrated);
  ~TestDatabase();
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  const std::string& url() const { return url_; }
  const std::string& name() const { return name_; }
  // A connection of this test's own (opened on first use).
  pqxx::connection_base& conn();
  // Runs one statement and returns the first column of the first row as text
  // ("" for NULL or no row).
  std::string scalar(const std::string& sql);

 private:
  std::string name_;
  std::string url_;
  struct Conn;
  std::unique_ptr<Conn> conn_;
};

// A private cluster under a temporary directory, started with deploy/dev/pg.sh.
class TestCluster {
 public:
  // pg.sh's options beyond --fsync off (--tls DIR, --set name=value...),
  // given again at every start.
  explicit TestCluster(std::vector<std::string> options = {});
  // A streaming replica of `primary` (running), known to it as `name`.
  struct ReplicaOf {
    const TestCluster& primary;
    std::string name;
  };
  explicit TestCluster(const ReplicaOf& replica);
  ~TestCluster();  // destroys it
  TestCluster(const TestCluster&) = delete;
  TestCluster& operator=(const TestCluster&) = delete;
  void start();
  void stop();
  void crash();    // stopped at once, without a checkpoint, as a power cut would
  void promote();  // a replica becomes a primary
  const std::string& url() const { return url_; }  // the `effectd` database

 private:
  void takeUrl(const std::string& output);

  std::string dir_;
  std::vector<std::string> options_;
  std::string url_;
};

std::string randomSuffix();

// A test database URL's port, and the same URL with another port (to put a
// proxy in between).
std::uint16_t portOf(const std::string& url);
std::string throughPort(const std::string& url, std::uint16_t port);

}  // namespace effectd::testing
