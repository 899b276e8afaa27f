#include "queue/http_client.hpp"

#include "queue/delivery_abort.hpp"

#include <openssl/ssl.h>
#include <poll.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <charconv>
#include <map>
#include <mutex>
#include <tuple>

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

namespace {

// Each connection runs on its own io_context: its concrete executor spares
// the type-erased any_io_executor on every operation.
using Executor = asio::io_context::executor_type;
using TcpStream = beast::basic_stream<tcp, Executor>;
using Resolver = asio::ip::basic_resolver<tcp, Executor>;

// One connection to one origin. It owns its io_context, so a blocking caller
// drives it step by step, and it can wait in the pool between requests.
struct Connection {
  Connection(const Url& url, asio::ssl::context& tlsContext) : tcp(ioc) {
    if (url.tls) tls.emplace(tcp, tlsContext);
  }
  asio::io_context ioc;
  TcpStream tcp;
  std::optional<asio::ssl::stream<TcpStream&>> tls;
  beast::flat_buffer buffer;
  std::chrono::steady_clock::time_point idleSince;

  // Runs one asynchronous step to completion on this thread. Deadlines are
  // the stream's (expires_after); an abort closes the socket mid-step.
  template <class Start>
  beast::error_code run(DeliveryAbort* abort, Start&& start) {
    bool finished = false;
    beast::error_code result;
    start([&](beast::error_code ec, auto&&...) {
      finished = true;
      result = ec;
    });
    if (abort) {
      abort->run(ioc);
    } else {
      ioc.restart();
      ioc.run();
    }
    if (finished) return result;
    tcp.close();  // aborted: complete the step with operation_aborted, then leave
    ioc.restart();
    ioc.run();
    // The step may have completed just before the close took effect.
    return finished && !result ? result : asio::error::operation_aborted;
  }

  // An idle connection the server has closed (or written to, which no
  // well-behaved server does between responses) is readable: not reusable.
  bool looksAlive() {
    pollfd p{.fd = tcp.socket().native_handle(), .events = POLLIN, .revents = 0};
    return ::poll(&p, 1, 0) == 0;
  }
};

using Origin = std::tuple<bool, std::string, std::uint16_t>;

bool closedByPeer(beast::error_code ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == asio::ssl::error::stream_truncated;
}

}  // namespace

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
  mutable std::mutex mutex;
  std::map<Origin, std::vector<std::unique_ptr<Connection>>> idle;

  std::unique_ptr<Connection> takeIdle(const Url& url) {
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mutex);
    auto it = idle.find(Origin{url.tls, url.host, url.port});
    if (it == idle.end()) return nullptr;
    auto& list = it->second;
    while (!list.empty()) {
      auto c = std::move(list.back());  // the most recently used is the likeliest alive
      list.pop_back();
      if (now - c->idleSince < options.idleTimeout && c->looksAlive()) return c;
    }
    return nullptr;
  }

  void putIdle(const Url& url, std::unique_ptr<Connection> c) {
    c->idleSince = std::chrono::steady_clock::now();
    std::lock_guard lock(mutex);
    auto& list = idle[Origin{url.tls, url.host, url.port}];
    // Drop the stalest first when full; they are at the front.
    if (list.size() >= options.maxIdlePerOrigin) list.erase(list.begin());
    list.push_back(std::move(c));
  }

  // Resolve, connect and (for https) handshake with SNI and host-name checks.
  std::unique_ptr<Connection> open(const Url& url, std::string& error) {
    auto c = std::make_unique<Connection>(url, tls);
    Resolver resolver(c->ioc);
    Resolver::results_type endpoints;
    if (auto ec = c->run(options.abort.get(), [&](auto done) {
          resolver.async_resolve(url.host, std::to_string(url.port),
                                 [&endpoints, done](beast::error_code ec, auto results) mutable {
                                   endpoints = std::move(results);
                                   done(ec);
                                 });
        })) {
      error = "resolve: " + ec.message();
      return nullptr;
    }
    c->tcp.expires_after(options.connectTimeout);
    if (auto ec = c->run(options.abort.get(),
                         [&](auto done) { c->tcp.async_connect(endpoints, done); })) {
      error = "connect: " + ec.message();
      return nullptr;
    }
    if (!c->tls) return c;
    if (!SSL_set_tlsext_host_name(c->tls->native_handle(), url.host.c_str())) {
      error = "tls: cannot set the server name";
      return nullptr;
    }
    c->tls->set_verify_callback(asio::ssl::host_name_verification(url.host));
    if (auto ec = c->run(options.abort.get(), [&](auto done) {
          c->tls->async_handshake(asio::ssl::stream_base::client, done);
        })) {
      error = "tls handshake: " + ec.message();
      return nullptr;
    }
    return c;
  }
};

HttpClient::HttpClient(Options options) : impl_(std::make_unique<Impl>(std::move(options))) {}
HttpClient::~HttpClient() = default;

std::size_t HttpClient::idleConnections() const {
  std::lock_guard lock(impl_->mutex);
  std::size_t n = 0;
  for (const auto& [origin, list] : impl_->idle) n += list.size();
  return n;
}

HttpResponse HttpClient::send(const HttpRequest& r) const {
  http::request<http::string_body> req{http::string_to_verb(r.method), r.url.path + r.target, 11};
  req.set(http::field::host, r.url.host);
  req.set(http::field::user_agent, "effectd/" EFFECTD_VERSION);
  for (const auto& [k, v] : r.headers) req.set(k, v);
  req.body() = r.body;
  req.prepare_payload();
  req.keep_alive(true);

  HttpResponse out;
  auto connection = impl_->takeIdle(r.url);
  for (;;) {
    const bool reused = connection != nullptr;
    if (!connection) connection = impl_->open(r.url, out.error);
    if (!connection) return out;  // nothing was sent

    auto& c = *connection;
    std::optional<http::response_parser<http::string_body>> parser;
    out.mayHaveBeenSent = true;  // from the first byte written, the provider may act on it
    c.tcp.expires_after(impl_->options.requestTimeout);
    const char* step = "write";
    auto ec = c.run(impl_->options.abort.get(), [&](auto done) {
      if (c.tls) {
        http::async_write(*c.tls, req, done);
      } else {
        http::async_write(c.tcp, req, done);
      }
    });
    // Interim answers (100 Continue, 103 Early Hints) precede the real one.
    bool interimAnswer = false;  // a 1xx arrived: the server has seen the request
    while (!ec && (!parser || parser->get().result_int() / 100 == 1)) {
      interimAnswer = interimAnswer || parser.has_value();
      parser.emplace();
      parser->body_limit(kMaxResponseBody);
      step = "read";
      ec = c.run(impl_->options.abort.get(), [&](auto done) {
        if (c.tls) {
          http::async_read(*c.tls, c.buffer, *parser, done);
        } else {
          http::async_read(c.tcp, c.buffer, *parser, done);
        }
      });
    }
    if (ec) {
      // A server may close a kept-alive connection just as we reuse it. With
      // no byte of an answer, a request the provider deduplicates is safe to
      // send once more on a new connection.
      if (reused && r.replayable && !interimAnswer && (!parser || !parser->got_some()) &&
          closedByPeer(ec)) {
        connection.reset();
        continue;
      }
      out.error = std::string(step) + ": " +
                  (ec == asio::error::operation_aborted ? "cut short by shutdown" : ec.message());
      return out;
    }
    const bool reusable = parser->keep_alive() && c.buffer.size() == 0 && c.tcp.socket().is_open();
    auto& res = parser->get();
    out.status = static_cast<int>(res.result_int());
    out.body = std::move(res.body());
    for (const auto& f : res)
      out.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    // Bytes past the answer belong to nothing we sent: such a connection is
    // not trusted with the next request.
    if (reusable) impl_->putIdle(r.url, std::move(connection));
    return out;
  }
}

}  // namespace effectd::queue
