#include "sql/pooler.hpp"

#include <gtest/gtest.h>

#include <map>

#include "config/config.hpp"

namespace effectd::sql {
namespace {

TEST(PoolerTest, PrismasFlagMeansATransactionPoolerAndIsTakenOutOfTheUrlLibpqGets) {
  const auto d = decidePooler(
      "postgresql://u:p@pgbouncer.internal:6432/app?sslmode=require&pgbouncer=true&"
      "application_name=effectd",
      "auto");
  EXPECT_TRUE(d.transactionPooler);
  EXPECT_EQ(
      d.url,
      "postgresql://u:p@pgbouncer.internal:6432/app?sslmode=require&application_name=effectd");
  EXPECT_EQ(d.reason.find("p@"), std::string::npos) << "the reason must not quote the URL";

  EXPECT_EQ(decidePooler("postgresql://h/app?pgbouncer=true", "auto").url, "postgresql://h/app");
  // Explicitly not a pooler: the flag still goes, since libpq refuses it.
  const auto none = decidePooler("postgresql://h/app?pgbouncer=true", "none");
  EXPECT_FALSE(none.transactionPooler);
  EXPECT_EQ(none.url, "postgresql://h/app");
  EXPECT_FALSE(decidePooler("postgresql://h/app?pgbouncer=false", "auto").transactionPooler);
}

TEST(PoolerTest, AUrlIsRewrittenOnlyWhereTheFlagIsAndAPasswordIsLeftAlone) {
  // '?' and '&' in a password: the query starts after the authority.
  auto d = decidePooler("postgresql://u:p?s&s@h/db?pgbouncer=true", "auto");
  EXPECT_TRUE(d.transactionPooler);
  EXPECT_EQ(d.url, "postgresql://u:p?s&s@h/db");
  d = decidePooler("postgresql://u:a?&b@h/db?x=1&&y=2", "auto");
  EXPECT_FALSE(d.transactionPooler);
  EXPECT_EQ(d.url, "postgresql://u:a?&b@h/db?x=1&&y=2") << "nothing to take out: untouched";
  d = decidePooler("postgresql://u:p@h/db?pgbouncer=true&application_name=a@b", "auto");
  EXPECT_TRUE(d.transactionPooler);
  EXPECT_EQ(d.url, "postgresql://u:p@h/db?application_name=a@b");
  EXPECT_EQ(decidePooler("host=h password=x?pgbouncer=true", "auto").url,
            "host=h password=x?pgbouncer=true");
  EXPECT_TRUE(decidePooler("postgresql://u@AWS-0-EU.Pooler.Supabase.com.:6543/db", "auto")
                  .transactionPooler);
}

TEST(PoolerTest, AutoRecognisesSupabasesTransactionPortAndNeonsPoolerHosts) {
  EXPECT_TRUE(decidePooler("postgresql://postgres.abc:pw@aws-0-eu-central-1.pooler.supabase.com:"
                           "6543/postgres",
                           "auto")
                  .transactionPooler);
  // Port 5432 on the same host is Supavisor's session mode: prepared statements work.
  EXPECT_FALSE(decidePooler("postgresql://postgres.abc:pw@aws-0-eu-central-1.pooler.supabase.com:"
                            "5432/postgres",
                            "auto")
                   .transactionPooler);
  EXPECT_TRUE(decidePooler("postgresql://u:pw@ep-cool-1234-pooler.eu-central-1.aws.neon.tech/db?"
                           "sslmode=require",
                           "auto")
                  .transactionPooler);
  EXPECT_FALSE(decidePooler("postgresql://u:pw@ep-cool-1234.eu-central-1.aws.neon.tech/db", "auto")
                   .transactionPooler);
  // A key=value string and a multi-host URL are read by libpq's own parser.
  EXPECT_TRUE(decidePooler("host=x.pooler.supabase.com port=6543 dbname=postgres", "auto")
                  .transactionPooler);
  EXPECT_TRUE(decidePooler("postgresql://a.example:5432,b.pooler.supabase.com:6543/db", "auto")
                  .transactionPooler);
  EXPECT_FALSE(decidePooler("postgresql://127.0.0.1:6543/db", "auto").transactionPooler);
  EXPECT_TRUE(decidePooler("postgresql://127.0.0.1/db", "transaction").transactionPooler);
}

config::Environment fake(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(PoolerTest, BehindAPoolerListenIsNotAttemptedThroughItAndTheOperatorIsTold) {
  auto loaded = config::load(fake({{"DATABASE_URL", "postgresql://u@bouncer/app?pgbouncer=true"}}),
                             config::Purpose::DatabaseOnly);
  ASSERT_TRUE(loaded.ok());
  EXPECT_TRUE(loaded.config.transactionPooler);
  EXPECT_EQ(loaded.config.databaseUrl, "postgresql://u@bouncer/app");
  EXPECT_EQ(loaded.config.databaseListenUrl, "") << "LISTEN through the pooler would be lost";
  ASSERT_EQ(loaded.notes.size(), 2U);
  EXPECT_NE(loaded.notes[1].find("effects are found by polling"), std::string::npos);

  loaded = config::load(fake({{"DATABASE_URL", "postgresql://u@bouncer/app?pgbouncer=true"},
                              {"DATABASE_LISTEN_URL", "postgresql://u@db/app"}}),
                        config::Purpose::DatabaseOnly);
  EXPECT_EQ(loaded.config.databaseListenUrl, "postgresql://u@db/app");
  EXPECT_EQ(loaded.notes.size(), 1U);

  loaded =
      config::load(fake({{"DATABASE_URL", "postgresql://u@bouncer/app?pgbouncer=true"},
                         {"DATABASE_LISTEN_URL", "postgresql://u@bouncer/app?pgbouncer=true"}}),
                   config::Purpose::DatabaseOnly);
  EXPECT_EQ(loaded.config.databaseListenUrl, "") << "the pooler's own URL is no place to LISTEN";
  ASSERT_EQ(loaded.notes.size(), 2U);
  EXPECT_NE(loaded.notes[1].find("set DATABASE_LISTEN_URL to a direct connection"),
            std::string::npos);

  loaded =
      config::load(fake({{"DATABASE_URL", "postgresql://u@db/app"},
                         {"DATABASE_LISTEN_URL", "postgresql://u@bouncer/app?pgbouncer=true"}}),
                   config::Purpose::DatabaseOnly);
  EXPECT_EQ(loaded.config.databaseListenUrl, "") << "a listen URL that is itself a pooler";

  loaded = config::load(fake({{"DATABASE_URL", "postgresql://u@db/app"}}),
                        config::Purpose::DatabaseOnly);
  EXPECT_FALSE(loaded.config.transactionPooler);
  EXPECT_EQ(loaded.config.databaseListenUrl, "postgresql://u@db/app");
  EXPECT_TRUE(loaded.notes.empty());

  loaded = config::load(
      fake({{"DATABASE_URL", "postgresql://u@db/app"}, {"DATABASE_POOLER", "session"}}),
      config::Purpose::DatabaseOnly);
  EXPECT_FALSE(loaded.ok()) << "an unknown DATABASE_POOLER must be refused";
}

}  // namespace
}  // namespace effectd::sql
