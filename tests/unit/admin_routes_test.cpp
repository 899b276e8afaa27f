#include "daemon/admin/admin_routes.hpp"

#include <gtest/gtest.h>

#include "base/base64.hpp"

namespace effectd::daemon {
namespace {

constexpr std::string_view kToken = "operator-token-1234";

AdminRoutes withToken(bool loopback = true) {
  return AdminRoutes({.token = std::string(kToken), .loopback = loopback});
}

std::string bearer(std::string_view token) {
  return "Bearer " + std::string(token);
}

std::string basic(std::string_view user, std::string_view password) {
  return "Basic " + base64Encode(std::string(user) + ":" + std::string(password));
}

AdminRequest get(std::string_view target, std::string_view authorization = {}) {
  return {
      .method = "GET", .target = target, .authorization = authorization, .host = "127.0.0.1:9090"};
}

unsigned statusOf(const AdminDecision& d) {
  if (const auto* reply = std::get_if<AdminReply>(&d)) return reply->status;
  return 0;  // an action: a database call, the metrics or the stream
}

TEST(AdminRoutesTest, WithoutATokenConfiguredEverythingUnderAdminIsNotFound) {
  const AdminRoutes routes({});
  for (const char* target : {"/admin/", "/admin/api/stats", "/admin/api/effects", "/admin"}) {
    EXPECT_EQ(statusOf(routes.handle(get(target, bearer("")))), 404u) << target;
    EXPECT_EQ(statusOf(routes.handle(get(target, basic("x", "")))), 404u) << target;
  }
  EXPECT_TRUE(std::holds_alternative<MetricsAction>(routes.handle(get("/metrics"))));
}

TEST(AdminRoutesTest, TheApiAndThePageNeedTheTokenAsBearerOrBasicPassword) {
  const auto routes = withToken();
  const auto missing = routes.handle(get("/admin/api/stats"));
  ASSERT_EQ(statusOf(missing), 401u);
  const auto& headers = std::get<AdminReply>(missing).headers;
  ASSERT_FALSE(headers.empty());
  EXPECT_EQ(headers.front().first, "WWW-Authenticate");
  EXPECT_EQ(headers.front().second.rfind("Basic ", 0), 0u);

  const auto wrongBearer = bearer("operator-token-1235");
  const auto shortBearer = bearer("operator");
  const auto wrongBasic = basic("admin", "nope");
  const auto userAsToken = basic(std::string(kToken), "");
  for (const auto& header :
       {wrongBearer, shortBearer, wrongBasic, userAsToken, std::string("Basic !!!"),
        std::string(kToken), std::string("Token ") + std::string(kToken)}) {
    EXPECT_EQ(statusOf(routes.handle(get("/admin/api/stats", header))), 401u) << header;
  }
  // The scheme in any case (RFC 9110), as make fuzz found curl users may send.
  for (const auto& scheme : {"bearer ", "BEARER ", "BeArEr "}) {
    EXPECT_TRUE(std::holds_alternative<StatsAction>(
        routes.handle(get("/admin/api/stats", std::string(scheme) + std::string(kToken)))))
        << scheme;
  }
  const auto goodBearer = bearer(kToken);
  const auto goodBasic = basic("anyone", kToken);
  EXPECT_TRUE(
      std::holds_alternative<StatsAction>(routes.handle(get("/admin/api/stats", goodBearer))));
  EXPECT_TRUE(
      std::holds_alternative<StatsAction>(routes.handle(get("/admin/api/stats", goodBasic))));
  EXPECT_TRUE(std::holds_alternative<TransitionStream>(
      routes.handle(get("/admin/api/transitions", goodBasic))));
  EXPECT_EQ(statusOf(routes.handle(get("/admin/", goodBasic))), 200u);
  EXPECT_EQ(statusOf(routes.handle(get("/admin/", {}))), 401u);
}

TEST(AdminRoutesTest, WithoutATokenMetricsAnswerOnlyALoopbackHost) {
  const auto routes = withToken(true);
  for (const char* host : {"127.0.0.1:9090", "127.0.0.1", "[::1]:9090", "localhost:9090", ""}) {
    AdminRequest r = get("/metrics");
    r.host = host;
    EXPECT_TRUE(std::holds_alternative<MetricsAction>(routes.handle(r))) << host;
  }
  // A page whose own name was rebound to 127.0.0.1 sends that name.
  for (const char* host : {"attacker.example:9090", "127.attacker.example", "[::1].example"}) {
    AdminRequest r = get("/metrics");
    r.host = host;
    EXPECT_EQ(statusOf(routes.handle(r)), 403u) << host;
    r.authorization = "Bearer operator-token-1234";
    EXPECT_TRUE(std::holds_alternative<MetricsAction>(routes.handle(r))) << host;
  }
  EXPECT_EQ(statusOf(routes.handle({.method = "HEAD",
                                    .target = "/admin/api/transitions",
                                    .authorization = "Bearer operator-token-1234"})),
            405u);
}

TEST(AdminRoutesTest, MetricsNeedTheTokenOnlyWhenNotBoundToLoopback) {
  EXPECT_TRUE(std::holds_alternative<MetricsAction>(withToken(true).handle(get("/metrics"))));
  const auto exposed = withToken(false);
  EXPECT_EQ(statusOf(exposed.handle(get("/metrics"))), 401u);
  EXPECT_EQ(statusOf(exposed.handle(get("/metrics", bearer("wrong")))), 401u);
  EXPECT_TRUE(
      std::holds_alternative<MetricsAction>(exposed.handle(get("/metrics", bearer(kToken)))));
  EXPECT_EQ(statusOf(exposed.handle({.method = "POST", .target = "/metrics"})), 405u);
}

TEST(AdminRoutesTest, ActionsRefuseWhatACrossSitePageCouldSend) {
  const auto routes = withToken();
  const auto auth = basic("x", kToken);
  AdminRequest post{.method = "POST",
                    .target = "/admin/api/effects/email:1/retry",
                    .authorization = auth,
                    .host = "127.0.0.1:9090",
                    .contentType = "application/x-www-form-urlencoded"};
  EXPECT_EQ(statusOf(routes.handle(post)), 415u);  // a form
  post.contentType = "text/plain";
  EXPECT_EQ(statusOf(routes.handle(post)), 415u);  // fetch without a preflight
  post.contentType = "application/json";
  post.origin = "https://evil.example";
  EXPECT_EQ(statusOf(routes.handle(post)), 403u);
  post.origin = "http://127.0.0.1:9090";
  EXPECT_TRUE(std::holds_alternative<DatabaseCall>(routes.handle(post)));
  post.origin = {};  // curl, or the CLI
  EXPECT_TRUE(std::holds_alternative<DatabaseCall>(routes.handle(post)));
  // Reads change nothing and may be fetched by GET only.
  EXPECT_EQ(
      statusOf(routes.handle(
          {.method = "GET", .target = "/admin/api/effects/email:1/retry", .authorization = auth})),
      405u);
}

TEST(AdminRoutesTest, ThePageHasAStrictContentSecurityPolicy) {
  const auto routes = withToken();
  const auto page = routes.handle(get("/admin/", bearer(kToken)));
  ASSERT_EQ(statusOf(page), 200u);
  const auto& reply = std::get<AdminReply>(page);
  EXPECT_EQ(reply.contentType, "text/html; charset=utf-8");
  std::string csp;
  for (const auto& [name, value] : reply.headers) {
    if (name == "Content-Security-Policy") csp = value;
  }
  EXPECT_NE(csp.find("default-src 'none'"), std::string::npos) << csp;
  EXPECT_NE(csp.find("script-src 'self'"), std::string::npos) << csp;
  EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos) << csp;
  EXPECT_NE(reply.body.find("/admin/script.js"), std::string::npos);
  EXPECT_EQ(reply.body.find("<script>"), std::string::npos) << "no inline script";
  EXPECT_EQ(statusOf(routes.handle(get("/admin/script.js", bearer(kToken)))), 200u);
  EXPECT_EQ(statusOf(routes.handle(get("/admin/style.css", bearer(kToken)))), 200u);
  EXPECT_EQ(statusOf(routes.handle(get("/admin/../etc/passwd", bearer(kToken)))), 404u);
}

TEST(AdminRoutesTest, BadFiltersAreRefusedBeforeTheDatabase) {
  const auto routes = withToken();
  const auto auth = bearer(kToken);
  EXPECT_EQ(statusOf(routes.handle(get("/admin/api/effects?status=bogus", auth))), 400u);
  EXPECT_EQ(statusOf(routes.handle(get("/admin/api/effects?kind=fax", auth))), 400u);
  EXPECT_EQ(statusOf(routes.handle(get("/admin/api/effects?limit=0", auth))), 400u);
  EXPECT_EQ(statusOf(routes.handle(get("/admin/api/effects?limit=1001", auth))), 400u);
  EXPECT_EQ(statusOf(routes.handle(get("/admin/api/events?limit=x", auth))), 400u);
  EXPECT_EQ(statusOf(routes.handle(get("/admin/api/effects?key_prefix=%zz", auth))), 400u);
  EXPECT_EQ(statusOf(routes.handle(get("/admin/api/nothing", auth))), 404u);
  EXPECT_EQ(statusOf(routes.handle(get("/admin/api/effects/a/b/c", auth))), 404u);
  EXPECT_TRUE(std::holds_alternative<DatabaseCall>(
      routes.handle(get("/admin/api/effects?status=dead&kind=email&limit=5", auth))));
}

TEST(AdminRoutesTest, PercentDecodingOfSegmentsAndQueries) {
  EXPECT_EQ(percentDecode("email%3Asub_1%2Fx", false), "email:sub_1/x");
  EXPECT_EQ(percentDecode("a+b", false), "a+b");
  EXPECT_EQ(percentDecode("a+b%20c", true), "a b c");
  EXPECT_EQ(percentDecode("%4", false), std::nullopt);
  EXPECT_EQ(percentDecode("%", true), std::nullopt);
  EXPECT_EQ(percentDecode("%g0", true), std::nullopt);
}

}  // namespace
}  // namespace effectd::daemon
