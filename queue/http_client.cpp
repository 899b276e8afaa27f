#include "queue/http_client.hpp"

#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <charconv>

namespace effectd::queue {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
constexpr std::size_t kMaxResponseBody = std::size_t{1024} * 1024;

}  // namespace

std::optional<Url> Url::parse(const std::string& text) {
  Url url;
  std::string rest;
  if (text.rfind("https://", 0) == 0) {
    rest = text.substr(8);
  } else if (text.rfind("http://", 0) == 0) {
    url.tls = false;
    url.port = 80;
    rest = text.substr(7);
  } else {
    return std::nullopt;
  }
  const auto slash = rest.find('/');
  auto authority = rest.substr(0, slash);
  url.path = slash == std::string::npos ? "" : rest.substr(slash);
  while (!url.path.empty() && url.path.back() == '/') url.path.pop_back();
  if (authority.find('@') != std::string::npos) return std::nullopt;  // no credentials in URLs
  const auto colon = authority.rfind(':');
  if (colon != std::string::npos && authority.find(']') == std::string::npos) {
    unsigned port = 0;
    const auto* begin = authority.data() + colon + 1;
    const auto* end = authority.data() + authority.size();
    auto [p, ec] = std::from_chars(begin, end, port);
    if (ec != std::errc{} || p != end || port == 0 || port > 65535) return std::nullopt;
    url.port = static_cast<std::uint16_t>(port);
    authority.resize(colon);
  }
  if (authority.size() > 2 && authority.front() == '[')
    authority = authority.substr(1, authority.size() - 2);
  if (authority.empty()) return std::nullopt;
  url.host = authority;
  return url;
}

std::string HttpResponse::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (beast::iequals(k, name)) return v;
  }
  return {};
}

struct HttpClient::Impl {
  explicit Impl(Options o) : options(std::move(o)), tls(asio::ssl::context::tls_client) {
    tls.set_default_verify_paths();
    if (!options.caFile.empty()) tls.load_verify_file(options.caFile);
    tls.set_verify_mode(asio::ssl::verify_peer);
    tls.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                    asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                    asio::ssl::context::no_tlsv1_1);
  }
  Options options;
  asio::ssl::context tls;
};

HttpClient::HttpClient(Options options) : impl_(std::make_unique<Impl>(std::move(options))) {}
HttpClient::~HttpClient() = default;

HttpResponse HttpClient::send(const HttpRequest& r) const {
  asio::io_context ioc;
  HttpResponse out;
  http::request<http::string_body> req{http::string_to_verb(r.method), r.url.path + r.target, 11};
  req.set(http::field::host, r.url.host);
  req.set(http::field::user_agent, "effectd/" EFFECTD_VERSION);
  for (const auto& [k, v] : r.headers) req.set(k, v);
  req.body() = r.body;
  req.prepare_payload();
  req.keep_alive(false);

  tcp::resolver resolver(ioc);
  beast::tcp_stream tcpStream(ioc);
  asio::ssl::stream<beast::tcp_stream&> tlsStream(tcpStream, impl_->tls);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxResponseBody);
  bool done = false;

  auto fail = [&](const char* step, beast::error_code ec) {
    out.error = std::string(step) + ": " + ec.message();
    done = true;
  };
  auto onRead = [&](beast::error_code ec, std::size_t) {
    if (ec) return fail("read", ec);
    const auto& res = parser.get();
    out.status = static_cast<int>(res.result_int());
    out.body = res.body();
    for (const auto& f : res)
      out.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    done = true;
  };
  auto writeAndRead = [&] {
    out.mayHaveBeenSent = true;  // from the first byte written, the provider may act on it
    tcpStream.expires_after(impl_->options.requestTimeout);
    auto afterWrite = [&](beast::error_code ec, std::size_t) {
      if (ec) return fail("write", ec);
      if (r.url.tls) {
        http::async_read(tlsStream, buffer, parser, onRead);
      } else {
        http::async_read(tcpStream, buffer, parser, onRead);
      }
    };
    if (r.url.tls) {
      http::async_write(tlsStream, req, afterWrite);
    } else {
      http::async_write(tcpStream, req, afterWrite);
    }
  };

  tcpStream.expires_after(impl_->options.connectTimeout);
  resolver.async_resolve(
      r.url.host, std::to_string(r.url.port), [&](beast::error_code ec, auto results) {
        if (ec) return fail("resolve", ec);
        tcpStream.async_connect(results, [&](beast::error_code ec, auto) {
          if (ec) return fail("connect", ec);
          if (!r.url.tls) return writeAndRead();
          // SNI, and the certificate must name this host.
          if (!SSL_set_tlsext_host_name(tlsStream.native_handle(), r.url.host.c_str())) {
            return fail("tls", beast::error_code(static_cast<int>(::ERR_get_error()),
                                                 asio::error::get_ssl_category()));
          }
          tlsStream.set_verify_callback(asio::ssl::host_name_verification(r.url.host));
          tlsStream.async_handshake(asio::ssl::stream_base::client, [&](beast::error_code ec) {
            if (ec) return fail("tls handshake", ec);
            writeAndRead();
          });
        });
      });
  ioc.run();
  if (!done) out.error = "no outcome";
  return out;
}

}  // namespace effectd::queue
