#include "queue/channels/smtp_reply.hpp"

#include <gtest/gtest.h>

namespace effectd::queue {
namespace {

TEST(SmtpReplyTest, ReadsTheCodeTheSeparatorAndTheText) {
  const auto last = parseSmtpReplyLine("250 OK\r\n");
  ASSERT_TRUE(last);
  EXPECT_EQ(last->code, 250);
  EXPECT_FALSE(last->more);
  EXPECT_EQ(last->text, "OK");
  const auto more = parseSmtpReplyLine("250-mail.example greets you\r\n");
  ASSERT_TRUE(more);
  EXPECT_TRUE(more->more);
  EXPECT_EQ(more->text, "mail.example greets you");
  const auto bare = parseSmtpReplyLine("220\r\n");  // RFC 5321 allows the code alone
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->code, 220);
  EXPECT_EQ(bare->text, "");
}

TEST(SmtpReplyTest, RefusesWhatIsNoReplyLine) {
  for (const char* line : {"", "\r\n", "25\r\n", "2x0 OK\r\n", "999 no\r\n", "150 early\r\n",
                           "250_OK\r\n", "-250 x\r\n", " 250 x\r\n"}) {
    EXPECT_FALSE(parseSmtpReplyLine(line)) << line;
  }
}

}  // namespace
}  // namespace effectd::queue
