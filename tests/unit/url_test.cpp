// Url::parse and Authority::parse: what a webhook payload's URL means is what
// the allow-list checks, so every spelling must parse to the one host and
// port it names, or not at all.
#include <gtest/gtest.h>

#include "http/url.hpp"

namespace effectd::http {
namespace {

TEST(UrlTest, AnIpv6LiteralWithAPortKeepsBoth) {
  const auto url = Url::parse("https://[::1]:8443/x");
  ASSERT_TRUE(url.has_value());
  EXPECT_TRUE(url->tls);
  EXPECT_EQ(url->host, "::1");
  EXPECT_EQ(url->port, 8443);
  EXPECT_EQ(url->path, "/x");
  EXPECT_EQ(url->authority().toString(), "[::1]:8443");
}

TEST(UrlTest, AnIpv6LiteralWithoutAPortTakesTheSchemesDefault) {
  const auto url = Url::parse("https://[2001:db8::1]/");
  ASSERT_TRUE(url.has_value());
  EXPECT_EQ(url->host, "2001:db8::1");
  EXPECT_EQ(url->port, 443);
  EXPECT_EQ(url->path, "");
  // Canonical form: two spellings of one address are one host.
  EXPECT_EQ(Url::parse("https://[2001:DB8:0::1]/")->host, "2001:db8::1");
}

TEST(UrlTest, PlainHttpWithAnExplicitDefaultPort) {
  const auto url = Url::parse("http://h:80");
  ASSERT_TRUE(url.has_value());
  EXPECT_FALSE(url->tls);
  EXPECT_EQ(url->host, "h");
  EXPECT_EQ(url->port, 80);
  EXPECT_EQ(url->path, "");
  EXPECT_EQ(Url::parse("http://h")->port, 80);
  EXPECT_EQ(Url::parse("https://Hooks.Example.COM/a")->host, "hooks.example.com");
}

TEST(UrlTest, BadPortsAreRefused) {
  for (const auto* text : {"https://h:0/", "https://h:65536/", "https://h:99999999999/",
                           "https://h:/", "https://h:-1/", "https://h:+443/", "https://h:44x/",
                           "https://[::1]:/", "https://[::1]x/", "https://[::1]:8443:1/"}) {
    EXPECT_FALSE(Url::parse(text).has_value()) << text;
  }
}

TEST(UrlTest, CredentialsAreRefused) {
  for (const auto* text : {"https://user:pass@h/", "https://user@h/", "https://h@evil.example/",
                           "https://allowed.example@127.0.0.1:6379/"}) {
    EXPECT_FALSE(Url::parse(text).has_value()) << text;
  }
}

TEST(UrlTest, HostsThatCouldMeanSomethingElseAreRefused) {
  for (const auto* text :
       {"https://", "https:///x", "ftp://h/", "https://[::1/", "https://::1/",
        "https://2001:db8::1/", "https://h%2e.example/", "https://h\\@evil/", "https://h x/",
        "https://h\r\nX: 1/", "https://[fe80::1%25eth0]/", "https://[not-an-address]/"}) {
    EXPECT_FALSE(Url::parse(text).has_value()) << text;
  }
}

TEST(UrlTest, APathThatWouldEndTheRequestLineIsRefused) {
  for (const auto* text :
       {"https://h.example/x HTTP/1.1\r\nHost: internal.svc\r\n\r\nGET /admin",
        "https://h.example/a\nb", "https://h.example/a b", "https://h.example/?q=\x01",
        "https://h.example/\xc3\xa9", "https://h.example/a\\b"}) {
    EXPECT_FALSE(Url::parse(text).has_value()) << text;
  }
  const auto encoded = Url::parse("https://h.example/a%20b?q=%0D%0A");
  ASSERT_TRUE(encoded.has_value());
  EXPECT_EQ(encoded->path, "/a%20b?q=%0D%0A");
}

TEST(UrlTest, TheAuthorityEndsAtTheQueryOrFragment) {
  const auto query = Url::parse("https://h.example?x=1");
  ASSERT_TRUE(query.has_value());
  EXPECT_EQ(query->host, "h.example");
  EXPECT_EQ(query->path, "/?x=1");
  const auto fragment = Url::parse("https://h.example#frag");
  ASSERT_TRUE(fragment.has_value());
  EXPECT_EQ(fragment->host, "h.example");
  EXPECT_EQ(fragment->path, "");
}

TEST(AuthorityTest, AnEntryWithoutAPortTakesTheDefaultGiven) {
  EXPECT_EQ(Authority::parse("hooks.example.com", 443)->toString(), "hooks.example.com:443");
  EXPECT_EQ(Authority::parse("hooks.example.com:8443", 443)->toString(), "hooks.example.com:8443");
  EXPECT_EQ(Authority::parse("[2001:db8::1]:443", 80)->toString(), "[2001:db8::1]:443");
  EXPECT_EQ(Authority::parse("intranet", 80)->toString(), "intranet:80");
  EXPECT_FALSE(Authority::parse("2001:db8::1", 443).has_value());
  EXPECT_FALSE(Authority::parse("", 443).has_value());
  EXPECT_FALSE(Authority::parse("h:0", 443).has_value());
}

}  // namespace
}  // namespace effectd::http
