#include "base/log.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace effectd::log {
namespace {

TEST(LogTest, JsonLinesAreValidJsonWithEscapedValues) {
  const auto line = format(Format::Json, Level::Warn, "request",
                           {{"reason", "bad \"quote\"\nnewline"}, {"status", 400}, {"ok", false}});
  ASSERT_EQ(line.back(), '\n');
  const auto doc = nlohmann::json::parse(line);
  EXPECT_EQ(doc["level"], "warn");
  EXPECT_EQ(doc["msg"], "request");
  EXPECT_EQ(doc["reason"], "bad \"quote\"\nnewline");
  EXPECT_EQ(doc["status"], 400);
  EXPECT_EQ(doc["ok"], false);
}

TEST(LogTest, InvalidUtf8FromAClientDoesNotBreakTheLine) {
  const auto line = format(Format::Json, Level::Info, "x", {{"path", "/\xff\xfe"}});
  EXPECT_FALSE(nlohmann::json::parse(line, nullptr, false).is_discarded());
}

TEST(LogTest, TextLinesQuoteValuesWithSpaces) {
  const auto line =
      format(Format::Text, Level::Info, "request", {{"reason", "two words"}, {"id", "evt_1"}});
  EXPECT_NE(line.find(R"(reason="two words")"), std::string::npos);
  EXPECT_NE(line.find("id=evt_1"), std::string::npos);
}

}  // namespace
}  // namespace effectd::log
