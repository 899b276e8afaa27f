// Raw bytes as an HTTP request up to the routes' decision: Beast's parser
// with the public listener's limits, then PublicRoutes (webhooks, health)
// and AdminRoutes (token, CSRF, paths). Invariants: a decision to store an
// event only for a valid signature; a 2xx from the admin routes only with
// the token.
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http.hpp>

#include "base/base64.hpp"
#include "config/config.hpp"
#include "daemon/admin/admin_routes.hpp"
#include "daemon/public_routes.hpp"
#include "handlers/signature.hpp"
#include "sql/database_health.hpp"
#include "tests/fuzz/fuzz_target.hpp"

namespace http = boost::beast::http;
using namespace effectd;

namespace {

constexpr std::string_view kToken = "fuzz-admin-token-0123456789";

bool startsWithNoCase(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() &&
         boost::beast::iequals(text.substr(0, prefix.size()), prefix);
}

// The token as the request presents it, Bearer or Basic password (the
// scheme in any case, as RFC 9110 has it: found by make fuzz).
bool presentsToken(std::string_view header) {
  if (startsWithNoCase(header, "Bearer ")) {
    return header.substr(7).find(kToken) != std::string_view::npos;
  }
  if (!startsWithNoCase(header, "Basic ")) return false;
  auto credentials = header.substr(6);
  while (!credentials.empty() && credentials.front() == ' ') credentials.remove_prefix(1);
  const auto decoded = base64Decode(credentials);
  return decoded && decoded->find(kToken) != std::string::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const config::Config config = [] {
    config::Config c;
    c.stripeWebhookSecrets = {"whsec_fuzz"};
    return c;
  }();
  static sql::DatabaseHealth health;
  static const daemon::PublicRoutes routes({.config = &config, .health = &health, .clock = [] {
                                              return std::chrono::system_clock::time_point(
                                                  std::chrono::seconds(1760000000));
                                            }});
  static const daemon::AdminRoutes admin({.token = std::string(kToken)});

  http::request_parser<http::string_body> parser;
  parser.header_limit(16 * 1024);
  parser.body_limit(1024 * 1024);
  parser.eager(true);
  boost::system::error_code ec;
  parser.put(boost::asio::buffer(data, size), ec);
  if (ec || !parser.is_header_done()) return 0;
  if (!parser.is_done()) parser.put_eof(ec);
  if (ec || !parser.is_done()) return 0;
  auto request = parser.release();

  const std::string signature(request["Stripe-Signature"]);
  const std::string body = request.body();
  auto decision = routes.handle({.method = request.method_string(),
                                 .target = request.target(),
                                 .stripeSignature = signature,
                                 .body = body});
  if (std::holds_alternative<daemon::StoreAction>(decision)) {
    FUZZ_CHECK(handlers::verifySignature(signature, body,
                                         {.secrets = config.stripeWebhookSecrets,
                                          .now = std::chrono::system_clock::time_point(
                                              std::chrono::seconds(1760000000))}) ==
               handlers::SignatureError::None);
  }
  const auto adminDecision = admin.handle({.method = request.method_string(),
                                           .target = request.target(),
                                           .authorization = request[http::field::authorization],
                                           .origin = request[http::field::origin],
                                           .host = request[http::field::host],
                                           .contentType = request[http::field::content_type],
                                           .body = body});
  const auto* reply = std::get_if<daemon::AdminReply>(&adminDecision);
  const bool granted = !reply || reply->status < 300;
  const auto path = request.target().substr(0, request.target().find('?'));
  if (granted && path != "/metrics") {
    FUZZ_CHECK(presentsToken(request[http::field::authorization]));
  }
  return 0;
}
