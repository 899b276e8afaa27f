#include "sql/migrator.hpp"

#include <map>
#include <pqxx/pqxx>
#include <string_view>
#include <thread>
#include <utility>

#include "base/hex.hpp"
#include "base/log.hpp"

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
  std::string name;
};

std::map<std::string, Applied> readLedger(pqxx::transaction_base& tx) {
  std::map<std::string, Applied> out;
  const auto exists = tx.exec(R"(SELECT to_regclass('"_effectd_migrations"') IS NOT NULL)");
  if (!exists[0][0].as<bool>()) return out;
  for (const auto& row : tx.exec(
           R"(SELECT "version", "checksum", to_char("appliedAt", 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),)"
           R"( "name" FROM "_effectd_migrations")")) {
    out[row[0].as<std::string>()] = {row[1].as<std::string>(), row[2].as<std::string>(),
                                     row[3].as<std::string>()};
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

MigrationDrift migrationDrift(pqxx::connection_base& conn,
                              const std::vector<Migration>& migrations) {
  MigrationDrift drift;
  pqxx::read_transaction tx(conn);
  auto ledger = readLedger(tx);
  for (const auto& m : migrations) {
    const auto it = ledger.find(m.version);
    if (it == ledger.end()) {
      drift.pending.push_back(m.name);
      continue;
    }
    if (it->second.checksum != checksum(m.sql)) drift.changed.push_back(m.name);
    ledger.erase(it);
  }
  for (const auto& [version, applied] : ledger) drift.unknown.push_back(applied.name);
  return drift;
}

std::string MigrationDrift::describe() const {
  const auto list = [](const std::vector<std::string>& names) {
    std::string out;
    for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
    return out;
  };
  std::string out;
  const auto add = [&](const std::string& part) { out += (out.empty() ? "" : "; ") + part; };
  if (!pending.empty()) add("not applied (run effectd migrate): " + list(pending));
  if (!unknown.empty()) add("applied by a newer effectd than this one: " + list(unknown));
  if (!changed.empty()) add("applied with other text than this binary's: " + list(changed));
  return out;
}

namespace {

bool lockNotGranted(const std::exception& e) {
  const auto* sqlError = dynamic_cast<const pqxx::sql_error*>(&e);
  return sqlError && sqlError->sqlstate() == "55P03";
}

MigrateResult migrateOnce(pqxx::connection_base& conn, const std::vector<Migration>& migrations,
                          const MigrateOptions& options) {
  MigrateResult result;
  pqxx::work tx(conn, "migrate");
  // Taken before anything else, including the ledger's CREATE TABLE, which
  // would itself race between two first-time migrators. Waiting for another
  // migrator holds no table lock, so it may wait as long as it takes.
  tx.exec_params("SELECT pg_advisory_xact_lock($1)", kMigrationLockKey);
  tx.exec("SET LOCAL lock_timeout = " +
          tx.quote(std::to_string(options.lockTimeout.count()) + "ms"));
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

}  // namespace

MigrateResult migrate(pqxx::connection_base& conn, const std::vector<Migration>& migrations,
                      const MigrateOptions& options) {
  for (int attempt = 1;; ++attempt) {
    try {
      return migrateOnce(conn, migrations, options);
    } catch (const std::exception& e) {
      if (!lockNotGranted(e) || attempt >= options.attempts) throw;
      log::warn("a table the migration alters is in use; trying again",
                {{"attempt", attempt},
                 {"attempts", options.attempts},
                 {"lock_timeout_ms", static_cast<long>(options.lockTimeout.count())}});
      std::this_thread::sleep_for(options.pause);
    }
  }
}

}  // namespace effectd::sql
