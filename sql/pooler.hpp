// Whether DATABASE_URL goes through a transaction pooler (PgBouncer in
// transaction mode, Supabase's and Neon's pooled connection strings, RDS
// Proxy). Such a pooler hands each transaction whichever server connection is
// free, so nothing may live on a server connection between transactions: no
// named prepared statement, no session setting, no LISTEN. DATABASE_POOLER
// says so, or `auto` reads it off the URL.
#pragma once

#include <string>
#include <string_view>

namespace effectd::sql {

struct PoolerDecision {
  bool transactionPooler = false;
  std::string reason;  // for the log and `config check`; never the URL itself
  std::string url;     // what libpq is given: Prisma's pgbouncer=true taken out
};

// `setting` is DATABASE_POOLER: "auto", "transaction" or "none". With auto, a
// pooler is recognised by Prisma's `pgbouncer=true` (which libpq would refuse
// as an unknown parameter), Supabase's transaction port (6543 on
// *.pooler.supabase.com) and Neon's `-pooler` host names.
PoolerDecision decidePooler(std::string_view url, std::string_view setting);

}  // namespace effectd::sql
