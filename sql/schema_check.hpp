// `effectd schema check`: does this database have every table, column, index
// and trigger effectd needs? Names precisely what is missing or different.
#pragma once

#include <string>
#include <vector>

namespace pqxx {
class connection_base;
}

namespace effectd::sql {

struct ExpectedColumn {
  const char* name;
  const char* type;  // as information_schema.columns.data_type spells it
};

struct ExpectedTable {
  const char* name;
  std::vector<ExpectedColumn> columns;
  std::vector<const char*> indexes;
  std::vector<const char*> triggers;
};

// What effectd needs, in the current schema (search_path).
const std::vector<ExpectedTable>& expectedSchema();

// One line per problem; empty when the schema is complete.
std::vector<std::string> checkSchema(pqxx::connection_base& conn);

}  // namespace effectd::sql
