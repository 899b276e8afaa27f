#include "daemon/http_post.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

namespace effectd::daemon {

std::string HttpAnswer::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (boost::beast::iequals(k, name)) return v;
  }
  return {};
}

HttpAnswer httpCall(const HttpCall& call) {
  namespace asio = boost::asio;
  namespace beast = boost::beast;
  namespace http = beast::http;
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  HttpAnswer answer;
  http::request<http::string_body> req{http::string_to_verb(call.method), call.target, 11};
  req.set(http::field::host, call.host);
  req.set(http::field::user_agent, "effectd/" EFFECTD_VERSION);
  for (const auto& [k, v] : call.headers) req.set(k, v);
  req.body() = call.body;
  req.prepare_payload();
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(std::uint64_t{16} * 1024 * 1024);

  auto fail = [&answer](const char* step, beast::error_code ec) {
    if (!answer.error.empty()) return;
    answer.error = std::string(step) + ": " + ec.message();
  };
  asio::ip::tcp::resolver resolver(ioc);
  stream.expires_after(call.timeout);
  resolver.async_resolve(
      call.host, std::to_string(call.port), [&](beast::error_code ec, auto results) {
        if (ec) return fail("resolve", ec);
        stream.async_connect(results, [&](beast::error_code ec, auto) {
          if (ec) return fail("connect", ec);
          http::async_write(stream, req, [&](beast::error_code ec, std::size_t) {
            if (ec) return fail("write", ec);
            http::async_read(stream, buffer, parser, [&](beast::error_code ec, std::size_t) {
              if (ec) return fail("read", ec);
              const auto& res = parser.get();
              answer.status = static_cast<int>(res.result_int());
              answer.body = res.body();
              for (const auto& field : res) {
                answer.headers.emplace_back(std::string(field.name_string()),
                                            std::string(field.value()));
              }
            });
          });
        });
      });
  ioc.run();
  return answer;
}

}  // namespace effectd::daemon
