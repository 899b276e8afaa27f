#include "tests/support/database.hpp"

#include <cstdlib>
#include <pqxx/pqxx>
#include <random>
#include <stdexcept>

#include "sql/migrator.hpp"
#include "tests/support/process.hpp"

namespace effectd::testing {

std::string randomSuffix() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string out;
  for (int i = 0; i < 12; ++i) out += alphabet[rng() % (sizeof alphabet - 1)];
  return out;
}

std::string adminUrl() {
  const char* url = std::getenv("EFFECTD_TEST_ADMIN_URL");
  if (!url || !*url) {
    throw std::runtime_error(
        "EFFECTD_TEST_ADMIN_URL is not set: run the suites through `make test`, which starts "
        "a throwaway PostgreSQL");
  }
  return url;
}

namespace {
std::string withDatabase(const std::string& url, const std::string& db) {
  const auto slash = url.rfind('/');
  return url.substr(0, slash + 1) + db;
}
}  // namespace

struct TestDatabase::Conn {
  explicit Conn(const std::string& url) : c(url) {}
  pqxx::connection c;
};

TestDatabase::TestDatabase(Schema schema) : name_("effectd_t_" + randomSuffix()) {
  const auto admin = adminUrl();
  {
    pqxx::connection c(admin);
    pqxx::nontransaction(c).exec("CREATE DATABASE \"" + name_ + "\"");
  }
  url_ = withDatabase(admin, name_);
  if (schema == Schema::Migrated) {
    pqxx::connection c(url_);
    sql::migrate(c, sql::embeddedMigrations());
  }
}

TestDatabase::~TestDatabase() {
  conn_.reset();
  try {
    pqxx::connection c(adminUrl());
    pqxx::nontransaction(c).exec("DROP DATABASE IF EXISTS \"" + name_ + "\" WITH (FORCE)");
  } catch (...) {
    // The cluster is thrown away after the run anyway.
  }
}

pqxx::connection_base& TestDatabase::conn() {
  if (!conn_) conn_ = std::make_unique<Conn>(url_);
  return conn_->c;
}

std::string TestDatabase::scalar(const std::string& sql) {
  pqxx::nontransaction tx(conn());
  const auto r = tx.exec(sql);
  if (r.empty() || r[0][0].is_null()) return "";
  return r[0][0].as<std::string>();
}

TestCluster::TestCluster(std::vector<std::string> options)
    : dir_(tempDirectory("effectd-cluster-")), options_(std::move(options)) {
  start();
}

TestCluster::~TestCluster() {
  runCommand({EFFECTD_SOURCE_DIR "/deploy/dev/pg.sh", "destroy", dir_});
}

void TestCluster::start() {
  std::vector<std::string> argv{EFFECTD_SOURCE_DIR "/deploy/dev/pg.sh", "start", dir_, "--fsync",
                                "off"};
  argv.insert(argv.end(), options_.begin(), options_.end());
  auto result = runCommand(argv);
  if (result.exitCode != 0) throw std::runtime_error("pg.sh start failed: " + result.output);
  takeUrl(result.output);
}

void TestCluster::takeUrl(const std::string& output) {
  auto url = output;
  while (!url.empty() && (url.back() == '\n' || url.back() == ' ')) url.pop_back();
  url_ = url.substr(url.rfind('\n') == std::string::npos ? 0 : url.rfind('\n') + 1);
}

TestCluster::TestCluster(const ReplicaOf& replica) : dir_(tempDirectory("effectd-replica-")) {
  const auto result = runCommand({EFFECTD_SOURCE_DIR "/deploy/dev/pg.sh", "replica", dir_,
                                  replica.primary.dir_, replica.name, "--fsync", "off"});
  if (result.exitCode != 0) throw std::runtime_error("pg.sh replica failed: " + result.output);
  takeUrl(result.output);
}

void TestCluster::crash() {
  const auto result = runCommand({EFFECTD_SOURCE_DIR "/deploy/dev/pg.sh", "crash", dir_});
  if (result.exitCode != 0) throw std::runtime_error("pg.sh crash failed: " + result.output);
}

void TestCluster::promote() {
  const auto result = runCommand({EFFECTD_SOURCE_DIR "/deploy/dev/pg.sh", "promote", dir_});
  if (result.exitCode != 0) throw std::runtime_error("pg.sh promote failed: " + result.output);
}

void TestCluster::stop() {
  auto result = runCommand({EFFECTD_SOURCE_DIR "/deploy/dev/pg.sh", "stop", dir_});
  if (result.exitCode != 0) throw std::runtime_error("pg.sh stop failed: " + result.output);
}

std::uint16_t portOf(const std::string& url) {
  const auto host = url.find("127.0.0.1:") + 10;
  return static_cast<std::uint16_t>(std::stoi(url.substr(host, url.find('/', host) - host)));
}

std::string throughPort(const std::string& url, std::uint16_t port) {
  const auto host = url.find("127.0.0.1:");
  const auto slash = url.find('/', host);
  return url.substr(0, host) + "127.0.0.1:" + std::to_string(port) + url.substr(slash);
}

}  // namespace effectd::testing
