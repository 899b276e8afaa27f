#include "queue/http_client.hpp"

#include "queue/delivery_abort.hpp"

#include <openssl/ssl.h>
#include <poll.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cctype>
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

}  // namespace

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
  // `tlsContext`: for an https URL only.
  Connection(const Url& url, asio::ssl::context* tlsContext) : tcp(ioc) {
    if (url.tls) tls.emplace(tcp, *tlsContext);
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

  bool peerAllowedBy(const AddressPolicy& policy) {
    beast::error_code ec;
    const auto peer = tcp.socket().remote_endpoint(ec);
    return !ec && !policy.refusal(peer.address().to_string());
  }
};

using Origin = std::tuple<bool, std::string, std::uint16_t>;

// RFC 9110: the port is part of Host unless it is the scheme's default.
std::string hostHeader(const Url& url) {
  auto host = url.authority().toString();
  if (url.port == (url.tls ? 443 : 80)) host.resize(host.rfind(':'));
  return host;
}

bool closedByPeer(beast::error_code ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == asio::ssl::error::stream_truncated;
}

}  // namespace

struct HttpClient::Impl {
  // Loading the system's trust store takes tens of milliseconds (Debian's
  // bundle is parsed whole): once per client, and only by a client that
  // speaks TLS. A CA file the operator named is read now, so that a wrong
  // path fails at start rather than at the first delivery.
  explicit Impl(Options o) : options(std::move(o)) {
    if (!options.caFile.empty()) tlsContext();
  }
  // Not std::call_once: libstdc++'s hangs later callers after a throw.
  asio::ssl::context& tlsContext() {
    std::lock_guard lock(tlsMutex);
    if (tls) return *tls;
    asio::ssl::context context(asio::ssl::context::tls_client);  // a throw leaves tls empty
    context.set_default_verify_paths();
    if (!options.caFile.empty()) context.load_verify_file(options.caFile);
    context.set_verify_mode(asio::ssl::verify_peer);
    context.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                        asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                        asio::ssl::context::no_tlsv1_1);
    return tls.emplace(std::move(context));
  }
  Options options;
  std::mutex tlsMutex;
  std::optional<asio::ssl::context> tls;
  mutable std::mutex mutex;
  std::map<Origin, std::vector<std::unique_ptr<Connection>>> idle;

  // A kept-alive connection was checked against the policy of the request
  // that opened it, if any: one refused by this request's policy stays for
  // requests it suits.
  std::unique_ptr<Connection> takeIdle(const Url& url, const AddressPolicy* policy) {
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mutex);
    auto it = idle.find(Origin{url.tls, url.host, url.port});
    if (it == idle.end()) return nullptr;
    auto& list = it->second;
    // The most recently used, at the back, is the likeliest alive.
    for (auto i = list.size(); i-- > 0;) {
      auto& c = list[i];
      if (now - c->idleSince >= options.idleTimeout || !c->looksAlive()) {
        list.erase(list.begin() + static_cast<std::ptrdiff_t>(i));
        continue;
      }
      if (policy && !c->peerAllowedBy(*policy)) continue;
      auto taken = std::move(c);
      list.erase(list.begin() + static_cast<std::ptrdiff_t>(i));
      return taken;
    }
    return nullptr;
  }

  void putIdle(const Url& url, std::unique_ptr<Connection> c) {
    if (options.maxIdlePerOrigin == 0) return;  // closed here
    c->idleSince = std::chrono::steady_clock::now();
    std::lock_guard lock(mutex);
    auto& list = idle[Origin{url.tls, url.host, url.port}];
    // Drop the stalest first when full; they are at the front.
    if (list.size() >= options.maxIdlePerOrigin) list.erase(list.begin());
    list.push_back(std::move(c));
  }

  // Resolve, connect and (for https) handshake with SNI and host-name checks.
  std::unique_ptr<Connection> open(const HttpRequest& request, HttpResponse& out) {
    const auto& url = request.url;
    asio::ssl::context* context = nullptr;
    if (url.tls) {
      try {
        context = &tlsContext();
      } catch (const std::exception& e) {
        out.error = std::string("tls: cannot load the trust store: ") + e.what();
        return nullptr;
      }
    }
    auto c = std::make_unique<Connection>(url, context);
    Resolver resolver(c->ioc);
    Resolver::results_type endpoints;
    if (auto ec = c->run(options.abort.get(), [&](auto done) {
          resolver.async_resolve(url.host, std::to_string(url.port),
                                 [&endpoints, done](beast::error_code ec, auto results) mutable {
                                   endpoints = std::move(results);
                                   done(ec);
                                 });
        })) {
      out.error = "resolve: " + ec.message();
      return nullptr;
    }
    if (!connect(*c, endpoints, request.addressPolicy, out)) return nullptr;
    if (!c->tls) return c;
    // SNI carries names only (RFC 6066); the certificate check takes both.
    beast::error_code notAnAddress;
    asio::ip::make_address(url.host, notAnAddress);
    if (notAnAddress && !SSL_set_tlsext_host_name(c->tls->native_handle(), url.host.c_str())) {
      out.error = "tls: cannot set the server name";
      return nullptr;
    }
    c->tls->set_verify_callback(asio::ssl::host_name_verification(url.host));
    if (auto ec = c->run(options.abort.get(), [&](auto done) {
          c->tls->async_handshake(asio::ssl::stream_base::client, done);
        })) {
      out.error = "tls handshake: " + ec.message();
      return nullptr;
    }
    return c;
  }

  // Tries the resolved addresses in turn, skipping those the policy refuses
  // before a packet goes to them: the addresses checked are the ones used.
  bool connect(Connection& c, const Resolver::results_type& endpoints, const AddressPolicy* policy,
               HttpResponse& out) {
    std::string refused;
    std::size_t refusedCount = 0;
    const auto admit = [&](const beast::error_code&, const tcp::endpoint& next) {
      const auto why = policy ? policy->refusal(next.address().to_string()) : std::nullopt;
      if (why) {
        refused += (refused.empty() ? "" : ", ") + next.address().to_string() + " (" + *why + ")";
        ++refusedCount;
      }
      return !why;
    };
    c.tcp.expires_after(options.connectTimeout);
    const auto ec =
        c.run(options.abort.get(), [&](auto done) { c.tcp.async_connect(endpoints, admit, done); });
    if (!ec) return true;
    out.addressRefused = refusedCount > 0 && refusedCount == endpoints.size();
    out.error = out.addressRefused
                    ? "address refused: " + refused
                    : "connect: " + ec.message() + (refused.empty() ? "" : "; refused " + refused);
    return false;
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
  req.set(http::field::host, hostHeader(r.url));
  req.set(http::field::user_agent, "effectd/" EFFECTD_VERSION);
  for (const auto& [k, v] : r.headers) req.set(k, v);
  req.body() = r.body;
  req.prepare_payload();
  req.keep_alive(true);

  HttpResponse out;
  auto connection = impl_->takeIdle(r.url, r.addressPolicy);
  for (;;) {
    const bool reused = connection != nullptr;
    if (!connection) connection = impl_->open(r, out);
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
      parser->body_limit(impl_->options.maxResponseBody);
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
