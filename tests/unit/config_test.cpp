#include "config/config.hpp"
#include "config/settings.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <set>

namespace effectd::config {
namespace {

Environment fake(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

const std::map<std::string, std::string> kMinimal{
    {"DATABASE_URL", "postgresql://effectd:s3cret@db/effectd"},
    {"STRIPE_WEBHOOK_SECRET", "whsec_a"},
    {"EMAIL_PROVIDER", "file"},
    {"ANALYTICS_PROVIDER", "log"}};

// The development channels mark effects sent without sending them: serve
// runs them only when they are chosen, never as a default.
TEST(ConfigTest, ServeRefusesToPickTheChannelsThatSendNothing) {
  auto vars = kMinimal;
  vars.erase("EMAIL_PROVIDER");
  vars.erase("ANALYTICS_PROVIDER");
  const auto serve = load(fake(vars));
  ASSERT_FALSE(serve.ok());
  std::string all;
  for (const auto& p : serve.problems) all += p + "\n";
  EXPECT_NE(all.find("EMAIL_PROVIDER is not set"), std::string::npos) << all;
  EXPECT_NE(all.find("ANALYTICS_PROVIDER is not set"), std::string::npos) << all;
  // Commands that only read the database do not care.
  EXPECT_TRUE(load(fake(vars), Purpose::DatabaseOnly).ok());
  vars["EMAIL_PROVIDER"] = "file";
  vars["ANALYTICS_PROVIDER"] = "log";
  EXPECT_TRUE(load(fake(vars)).ok());
}

TEST(ConfigTest, DefaultsMatchTheContract) {
  const auto loaded = load(fake(kMinimal));
  ASSERT_TRUE(loaded.ok());
  const auto& c = loaded.config;
  EXPECT_EQ(c.databaseListenUrl, c.databaseUrl);
  EXPECT_EQ(c.stripeTolerance.count(), 300);
  EXPECT_EQ(c.livemode, LivemodePolicy::Any);
  EXPECT_EQ(c.listen.toString(), "0.0.0.0:8080");
  EXPECT_EQ(c.adminListen.toString(), "127.0.0.1:9090");
  EXPECT_EQ(c.maxBodyBytes, 1024u * 1024u);
  EXPECT_EQ(c.logFormat, LogFormat::Json);
}

TEST(ConfigTest, SplitsRotatedSecrets) {
  auto vars = kMinimal;
  vars["STRIPE_WEBHOOK_SECRET"] = " whsec_new , whsec_old ,";
  const auto loaded = load(fake(vars));
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded.config.stripeWebhookSecrets,
            (std::vector<std::string>{"whsec_new", "whsec_old"}));
}

TEST(ConfigTest, ListsEveryProblemWithoutQuotingSecrets) {
  const auto loaded = load(fake({{"STRIPE_WEBHOOK_SECRET", "sk_live_oops"},
                                 {"STRIPE_LIVEMODE", "sometimes"},
                                 {"EFFECTD_LISTEN", "nohostport"},
                                 {"EFFECTD_MAX_BODY_BYTES", "12abc"},
                                 {"EFFECTD_LOG_LEVEL", "loud"}}));
  EXPECT_EQ(loaded.problems.size(), 8u);
  for (const auto& p : loaded.problems) EXPECT_EQ(p.find("sk_live_oops"), std::string::npos) << p;
  auto mentions = [&](const std::string& word) {
    for (const auto& p : loaded.problems) {
      if (p.find(word) != std::string::npos) return true;
    }
    return false;
  };
  EXPECT_TRUE(mentions("DATABASE_URL is required"));
  EXPECT_TRUE(mentions("STRIPE_WEBHOOK_SECRET: every secret must start with whsec_"));
  EXPECT_TRUE(mentions("STRIPE_LIVEMODE"));
  EXPECT_TRUE(mentions("EFFECTD_LISTEN"));
  EXPECT_TRUE(mentions("EFFECTD_MAX_BODY_BYTES"));
  EXPECT_TRUE(mentions("EFFECTD_LOG_LEVEL"));
  EXPECT_TRUE(mentions("EMAIL_PROVIDER is not set"));
  EXPECT_TRUE(mentions("ANALYTICS_PROVIDER is not set"));
}

TEST(ConfigTest, ReadsSecretsFromFilesAndCredentials) {
  const std::string dir = ::testing::TempDir();
  const auto file = dir + "/stripe_secret";
  std::ofstream(file) << "whsec_from_file\n";
  std::ofstream(dir + "/DATABASE_URL") << "postgresql://cred@db/effectd\n";
  const auto loaded = load(fake({{"STRIPE_WEBHOOK_SECRET_FILE", file},
                                 {"CREDENTIALS_DIRECTORY", dir},
                                 {"EMAIL_PROVIDER", "file"},
                                 {"ANALYTICS_PROVIDER", "log"}}));
  ASSERT_TRUE(loaded.ok()) << loaded.problems.front();
  EXPECT_EQ(loaded.config.stripeWebhookSecrets, (std::vector<std::string>{"whsec_from_file"}));
  EXPECT_EQ(loaded.config.databaseUrl, "postgresql://cred@db/effectd");
  std::remove(file.c_str());
  std::remove((dir + "/DATABASE_URL").c_str());
}

TEST(ConfigTest, RefusesASecretGivenTwice) {
  auto vars = kMinimal;
  vars["STRIPE_WEBHOOK_SECRET_FILE"] = "/nonexistent";
  const auto loaded = load(fake(vars));
  ASSERT_EQ(loaded.problems.size(), 2u);  // both set, and then none resolved
  EXPECT_NE(loaded.problems[0].find("both set"), std::string::npos);
}

TEST(ConfigTest, DatabaseOnlyCommandsNeedNoWebhookSecret) {
  EXPECT_TRUE(load(fake({{"DATABASE_URL", "postgresql://x@y/z"}}), Purpose::DatabaseOnly).ok());
  EXPECT_FALSE(load(fake({{"DATABASE_URL", "postgresql://x@y/z"}}), Purpose::Serve).ok());
}

TEST(ConfigTest, ParsesIpv6ListenAddress) {
  auto vars = kMinimal;
  vars["EFFECTD_LISTEN"] = "[::1]:8443";
  const auto loaded = load(fake(vars));
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded.config.listen.host, "::1");
  EXPECT_EQ(loaded.config.listen.port, 8443);
  EXPECT_EQ(loaded.config.listen.toString(), "[::1]:8443");
}

TEST(ConfigTest, DescribeRedactsSecrets) {
  auto vars = kMinimal;
  vars["EFFECTD_ADMIN_TOKEN"] = "tok_supersecret";
  const auto settings = describe(load(fake(vars)).config);
  for (const auto& s : settings) {
    EXPECT_EQ(s.value.find("s3cret"), std::string::npos) << s.name;
    EXPECT_EQ(s.value.find("whsec_a"), std::string::npos) << s.name;
    EXPECT_EQ(s.value.find("tok_supersecret"), std::string::npos) << s.name;
  }
}

TEST(ConfigTest, RedactsPasswordsInBothUrlForms) {
  EXPECT_EQ(redactUrl("postgresql://u:p%40ss@h:5432/db?sslmode=require"),
            "postgresql://u:***@h:5432/db?sslmode=require");
  EXPECT_EQ(redactUrl("postgres://u@h/db?password=abc&sslmode=require"),
            "postgres://u@h/db?password=***&sslmode=require");
  EXPECT_EQ(redactUrl("host=h user=u password=abc dbname=d"),
            "host=h user=u password=*** dbname=d");
  EXPECT_EQ(redactUrl("host=h password='a b\\' c' dbname=d"), "host=h password=*** dbname=d");
  EXPECT_EQ(redactUrl("smtp://mailer:hunter2@smtp.example:587?starttls=off"),
            "smtp://mailer:***@smtp.example:587?starttls=off");
  EXPECT_EQ(redactUrl("smtps://mailer:p@ss@smtp.example"), "smtps://mailer:***@smtp.example");
  EXPECT_EQ(redactUrl("postgresql://u:pa?ss@h/db"), "postgresql://u:***@h/db");
  EXPECT_EQ(redactUrl("smtp://u:pa#ss@h:587"), "smtp://u:***@h:587");
  EXPECT_EQ(redactUrl("host=h password = abc dbname=d"), "host=h password = *** dbname=d");
  EXPECT_EQ(redactUrl("https://user:tok@api.example/v1?to=a@b"),
            "https://user:***@api.example/v1?to=a@b");
}

}  // namespace
}  // namespace effectd::config

namespace effectd::config {
namespace {

// Each row of the table reads its own variable into its own field: set every
// setting to a valid value other than its default, and `config check` must
// show each as it was set (secrets redacted).
TEST(ConfigSettingsTest, EverySettingIsReadIntoItsFieldAndShownAsSet) {
  std::map<std::string, std::string> vars;
  std::map<std::string, std::string> shown;
  for (const auto& s : settings()) {
    const std::string name(s.name);
    std::string value;
    std::string expected;
    switch (s.kind) {
      case SettingKind::Integer:
      case SettingKind::Seconds:
      case SettingKind::Milliseconds:
      case SettingKind::Rate:
        value = expected = std::to_string(s.max);
        break;
      case SettingKind::Choice:
        value = expected = std::string(s.choices.substr(s.choices.rfind('|') + 1));
        break;
      case SettingKind::Text:
        value = expected = "text-" + name;
        break;
      case SettingKind::Url:
        value = expected = "https://" + name + ".example/";
        break;
      case SettingKind::Secret:
        value = "secret-" + name;
        expected = "(1 set, redacted)";
        break;
      case SettingKind::SecretUrl:
        value = expected =
            name == "SMTP_URL" ? "smtp://mail.example:25" : "postgresql://u@db/" + name;
        break;
      case SettingKind::SecretList:
        value = "whsec_1,whsec_2";
        expected = "(2 set, redacted)";
        break;
      case SettingKind::Address:
        value = expected = "127.0.0.2:1234";
        break;
      case SettingKind::AddressOrOff:
        value = expected = "off";
        break;
      case SettingKind::Hosts:
        value = expected = "hooks.example:8443";
        break;
      case SettingKind::HttpHosts:
        value = "plain.example";
        expected = "plain.example:80";
        break;
      case SettingKind::Networks:
        value = expected = "10.0.0.0/8";
        break;
    }
    vars[name] = value;
    shown[name] = expected;
  }
  const auto loaded = load(fake(vars));
  for (const auto& p : loaded.problems) ADD_FAILURE() << p;
  const auto settingsShown = describe(loaded.config);
  ASSERT_EQ(settingsShown.size(), settings().size());
  std::set<std::string> names;
  for (const auto& [name, value] : settingsShown) {
    EXPECT_TRUE(names.insert(name).second) << name << " is in the table twice";
    EXPECT_EQ(value, shown[name]) << name;
  }
}

TEST(ConfigSettingsTest, TheDocumentsNameEverySettingWithItsDefault) {
  const auto example = exampleFile();
  const auto table = referenceTable();
  const Config defaults;
  for (const auto& s : settings()) {
    const std::string name(s.name);
    EXPECT_NE(example.find("\n#" + name + "="), std::string::npos) << name;
    EXPECT_NE(table.find("| `" + name + "`"), std::string::npos) << name;
  }
  EXPECT_NE(
      example.find("\n#EFFECTD_DB_POOL_SIZE=" + std::to_string(defaults.databasePoolSize) + "\n"),
      std::string::npos);
  EXPECT_NE(table.find("| `EFFECTD_READ_TIMEOUT` | `10` |"), std::string::npos) << table;
  EXPECT_NE(table.find("| `EFFECTD_ADMIN_TOKEN` (secret) | none |"), std::string::npos) << table;
}

}  // namespace
}  // namespace effectd::config
