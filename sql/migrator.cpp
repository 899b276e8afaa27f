#include "sql/migrator.hpp"

#include <map>
#include <pqxx/pqxx>
#include <string_view>
#include <utility>

#include "base/hex.hpp"

namespace effectd::embedded {
// sql/migrations/*.sql, compiled in by cmake/embed_files.cmake, by name.
const std::vector<std::pair<std::string_view, std::string_view>>& migrationFiles();
}  // namespace effectd::embedded

namespace effectd::sql {

const std::vector<Migration>& embeddedMigrations() {
  // "0001_initial" is version "0001".
  static const auto migrations = [] {
    std::vector<Migration> out;
    for (const auto& [name, text] : embedded::migrationFiles()) {
      const auto digits = name.find_first_not_of("0123456789");
      out.push_back({std::string(name.substr(0, digits)), std::string(name), std::string(text)});
    }
    return out;
  }();
  return migrations;
}

namespace {

// Any constant works; this one spells "effectd" in ASCII.
constexpr long long kMigrationLockKey = 0x65666665637464;

constexpr const char* kCreateLedger = R"(
CREATE TABLE IF NOT EXISTS "_effectd_migrations" (
    "version"   TEXT         NOT NULL PRIMARY KEY,
    "name"      TEXT         NOT NULL,
    "checksum"  TEXT         NOT NULL,
    "appliedAt" TIMESTAMP(3) NOT NULL DEFAULT (now() AT TIME ZONE 'UTC')
))";

std::string checksum(const std::string& text) {
  return sha256Hex(text);
}

struct Applied {
  std::string checksum;
  std::string appliedAt;
};

std::map<std::string, Applied> readLedger(pqxx::transaction_base& tx) {
  std::map<std::string, Applied> out;
  const auto exists = tx.exec(R"(SELECT to_regclass('"_effectd_migrations"') IS NOT NULL)");
  if (!exists[0][0].as<bool>()) return out;
  for (const auto& row :
       tx.exec(R"(SELECT "version", "checksum", to_char("appliedAt", 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))"
               R"( FROM "_effectd_migrations")")) {
    out[row[0].as<std::string>()] = {row[1].as<std::string>(), row[2].as<std::string>()};
  }
  return out;
}

}  // namespace

std::vector<MigrationStatus> migrationStatus(pqxx::connection_base& conn,
                                             const std::vector<Migration>& migrations) {
  pqxx::read_transaction tx(conn);
  const auto ledger = readLedger(tx);
  std::vector<MigrationStatus> out;
  for (const auto& m : migrations) {
    MigrationStatus status{.version = m.version, .name = m.name};
    if (auto it = ledger.find(m.version); it != ledger.end()) {
      status.applied = true;
      status.appliedAt = it->second.appliedAt;
      status.checksumMismatch = it->second.checksum != checksum(m.sql);
    }
    out.push_back(std::move(status));
  }
  return out;
}

MigrateResult migrate(pqxx::connection_base& conn, const std::vector<Migration>& migrations) {
  MigrateResult result;
  pqxx::work tx(conn, "migrate");
  // Taken before anything else, including the ledger's CREATE TABLE, which
  // would itself race between two first-time migrators.
  tx.exec_params("SELECT pg_advisory_xact_lock($1)", kMigrationLockKey);
  tx.exec(kCreateLedger);
  const auto ledger = readLedger(tx);
  // A migration edited after it was applied means this binary and the
  // database disagree about what the schema is: apply nothing, say which.
  for (const auto& m : migrations) {
    if (auto it = ledger.find(m.version);
        it != ledger.end() && it->second.checksum != checksum(m.sql)) {
      result.changedSinceApplied.push_back(m.name);
    }
  }
  if (!result.changedSinceApplied.empty()) return result;  // rolled back: nothing applied
  for (const auto& m : migrations) {
    if (ledger.count(m.version)) continue;
    tx.exec(m.sql);
    tx.exec_params(
        R"(INSERT INTO "_effectd_migrations" ("version", "name", "checksum") VALUES ($1, $2, $3))",
        m.version, m.name, checksum(m.sql));
    result.applied.push_back(m.name);
  }
  tx.commit();
  return result;
}

}  // namespace effectd::sql
