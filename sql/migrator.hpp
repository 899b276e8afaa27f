// Schema migrations: ordered SQL files compiled into the binary, applied in
// one transaction under an advisory lock and recorded in _effectd_migrations,
// so two instances migrating at once apply each file exactly once.
#pragma once

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

struct MigrateResult {
  std::vector<std::string> applied;  // names applied by this call
  // Applied migrations whose text differs from this binary's: when any is
  // listed, nothing was applied.
  std::vector<std::string> changedSinceApplied;
};

// Applies what is pending, unless an applied migration has changed since
// (then nothing). Throws pqxx's exceptions; nothing is applied then either.
MigrateResult migrate(pqxx::connection_base& conn, const std::vector<Migration>& migrations);

}  // namespace effectd::sql
