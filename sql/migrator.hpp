// Schema migrations: ordered SQL files compiled into the binary, applied in
// one transaction under an advisory lock and recorded in _effectd_migrations,
// so two instances migrating at once apply each file exactly once.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace pqxx {
class connection_base;
}

namespace effectd::sql {

struct Migration {
  std::string version;  // "0001"
  std::string name;     // "0001_initial"
  std::string sql;
};

const std::vector<Migration>& embeddedMigrations();

struct MigrationStatus {
  std::string version;
  std::string name;
  bool applied = false;
  std::string appliedAt;          // empty when pending
  bool checksumMismatch = false;  // applied, but the file changed since
};

std::vector<MigrationStatus> migrationStatus(pqxx::connection_base& conn,
                                             const std::vector<Migration>& migrations);

// How the database's migrations differ from this binary's: what `serve`
// refuses to run against.
struct MigrationDrift {
  std::vector<std::string> pending;  // this binary's, not applied: the database is behind
  std::vector<std::string> unknown;  // applied, not this binary's: the database is ahead
  std::vector<std::string> changed;  // applied, with other text than this binary's
  bool none() const { return pending.empty() && unknown.empty() && changed.empty(); }
  std::string describe() const;  // one line naming them
};

MigrationDrift migrationDrift(pqxx::connection_base& conn,
                              const std::vector<Migration>& migrations);

struct MigrateResult {
  std::vector<std::string> applied;  // names applied by this call
  // Applied migrations whose text differs from this binary's: when any is
  // listed, nothing was applied.
  std::vector<std::string> changedSinceApplied;
};

// A migration's ALTER TABLE waits for the table's lock, and while it waits,
// every query of the app on that table queues behind it. So each try gives
// up on a lock after lockTimeout, rolls back, and tries again after `pause`.
struct MigrateOptions {
  std::chrono::milliseconds lockTimeout{2000};
  int attempts = 30;
  std::chrono::milliseconds pause{1000};
};

// Applies what is pending, unless an applied migration has changed since
// (then nothing). Throws pqxx's exceptions; nothing is applied then either
// (a lock still not granted after the last attempt: pqxx::sql_error 55P03).
MigrateResult migrate(pqxx::connection_base& conn, const std::vector<Migration>& migrations,
                      const MigrateOptions& options = {});

}  // namespace effectd::sql
