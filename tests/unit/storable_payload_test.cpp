#include "intake/storable_payload.hpp"

#include <gtest/gtest.h>

namespace effectd::intake {
namespace {

TEST(StorablePayloadTest, TextJsonbTakesAsItIsIsLeftAlone) {
  EXPECT_FALSE(jsonbStorable(R"({"a":"plain","b":"\u00e9\n\"","c":"\ud83d\ude00"})"));
  // An escaped backslash followed by u0000 is the text \u0000, not a NUL.
  EXPECT_FALSE(jsonbStorable(R"({"a":"\\u0000"})"));
}

TEST(StorablePayloadTest, NulAndUnpairedSurrogatesBecomeTheReplacementCharacter) {
  EXPECT_EQ(jsonbStorable(R"({"a":"x\u0000y"})"), R"({"a":"x\ufffdy"})");
  EXPECT_EQ(jsonbStorable(R"({"a":"\\\u0000"})"), R"({"a":"\\\ufffd"})");
  EXPECT_EQ(jsonbStorable(R"({"a":"\ud83d"})"), R"({"a":"\ufffd"})");
  EXPECT_EQ(jsonbStorable(R"({"a":"\ude00x"})"), R"({"a":"\ufffdx"})");
  EXPECT_EQ(jsonbStorable(R"({"a":"\uD83D\u0000"})"), R"({"a":"\ufffd\ufffd"})");
  EXPECT_EQ(jsonbStorable(R"({"\u0000":1})"), R"({"\ufffd":1})");
}

}  // namespace
}  // namespace effectd::intake
