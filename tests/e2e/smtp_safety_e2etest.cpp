// What an email payload or a hostile server can do to an SMTP conversation,
// through the real daemon and a real SMTP server: no payload field can add
// commands or headers, bodies reach the server with one kind of line break,
// and a reply that never ends is cut short instead of filling memory.
#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include "tests/support/daemon.hpp"
#include "tests/support/database.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/standin.hpp"

namespace effectd::testing {
namespace {

using nlohmann::json;

void enqueue(TestDatabase& db, const std::string& key, const json& payload) {
  pqxx::work tx(db.conn());
  tx.exec_params(R"(INSERT INTO "OutboundEffect" ("key", "kind", "payload")
                    VALUES ($1, 'email', $2::jsonb))",
                 key, payload.dump());
  tx.commit();
}

std::string column(TestDatabase& db, const std::string& key, const std::string& name) {
  return db.scalar("SELECT COALESCE(\"" + name +
                   "\"::text, '') FROM \"OutboundEffect\" WHERE \"key\" = '" + key + "'");
}

EnvOverrides smtpEnv(TestDatabase& db, const TestCertificates& certs, std::uint16_t port) {
  return {{"DATABASE_URL", db.url()},
          {"EMAIL_PROVIDER", "smtp"},
          {"SMTP_URL", "smtp://mailer:s3cret@localhost:" + std::to_string(port)},
          {"EFFECTD_CA_FILE", certs.dir + "/ca.pem"},
          {"EFFECTD_PROVIDER_TIMEOUT", "5"}};
}

TEST(SmtpSafetyE2eTest, LineBreaksInAddressesAreRefusedAndBareCarriageReturnsNormalised) {
  TestDatabase db;
  TestCertificates certs;
  SmtpServer smtp(certs.dir);
  const json base{{"to", "a@example.com"}, {"subject", "Hi"}, {"text", "Hello"}};
  auto injectedFrom = base;
  injectedFrom["from"] = "billing@x.example>\r\nRCPT TO:<victim@evil.example";
  auto injectedReplyTo = base;
  injectedReplyTo["replyTo"] = "help@x.example\nBcc: victim@evil.example";
  auto injectedTo = base;
  injectedTo["to"] = json::array({"a@example.com", "b@example.com\rRCPT TO:<victim@evil.example>"});
  auto injectedSubject = base;
  injectedSubject["subject"] = "Hi\r\nBcc: victim@evil.example";
  auto bareCr = base;
  bareCr["text"] = "one\rtwo\n.\nthree\r\n.\rfour";
  enqueue(db, "from", injectedFrom);
  enqueue(db, "replyTo", injectedReplyTo);
  enqueue(db, "to", injectedTo);
  enqueue(db, "subject", injectedSubject);
  enqueue(db, "bare-cr", bareCr);
  Daemon daemon(smtpEnv(db, certs, smtp.port()));
  ASSERT_TRUE(eventually(
      [&] {
        return db.scalar(R"(SELECT count(*) FROM "OutboundEffect"
                            WHERE "status" IN ('sent', 'dead'))") == "5";
      },
      std::chrono::seconds(20)))
      << daemon.log();

  for (const auto* key : {"from", "replyTo", "subject"}) {
    EXPECT_EQ(column(db, key, "status"), "dead") << key;
    EXPECT_NE(column(db, key, "lastError").find("line break"), std::string::npos)
        << key << ": " << column(db, key, "lastError");
  }
  EXPECT_EQ(column(db, "to", "status"), "dead");
  EXPECT_NE(column(db, "to", "lastError").find("invalid recipient"), std::string::npos);

  // Only the clean message reached the relay, to its one recipient.
  const auto messages = smtp.messages();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0]["to"], json::array({"a@example.com"}));
  const auto content = messages[0]["content"].get<std::string>();
  EXPECT_NE(content.find("one\r\ntwo\r\n.\r\nthree\r\n.\r\nfour"), std::string::npos) << content;
  for (std::size_t i = 0; i < content.size(); ++i) {
    if (content[i] == '\r') {
      ASSERT_TRUE(i + 1 < content.size() && content[i + 1] == '\n') << "bare CR at " << i;
    }
  }
  EXPECT_EQ(column(db, "bare-cr", "status"), "sent");
}

TEST(SmtpSafetyE2eTest, AReplyThatNeverEndsIsCutShort) {
  TestDatabase db;
  TestCertificates certs;
  SmtpServer hostile(certs.dir, {"--endless-greeting"});
  enqueue(db, "endless", {{"to", "a@example.com"}, {"subject", "Hi"}, {"text", "Hello"}});
  Daemon daemon(smtpEnv(db, certs, hostile.port()));
  ASSERT_TRUE(eventually(
      [&] {
        return column(db, "endless", "attempts") == "1" &&
               column(db, "endless", "status") == "pending";
      },
      std::chrono::seconds(15)))
      << daemon.log();
  // Nothing was sent: the conversation never got past the greeting.
  EXPECT_NE(column(db, "endless", "lastError").find("reply too long"), std::string::npos)
      << column(db, "endless", "lastError");
}

}  // namespace
}  // namespace effectd::testing
