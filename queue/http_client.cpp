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
constexpr std::size_t kMaxResponseBody = std::size_t{1024} * 1024;

// A registered name as DNS spells it. Anything else (percent-encoding,
// spaces, backslashes, control characters) could mean one host to effectd's
// checks and another to the resolver, or split the Host header.
bool validName(std::string_view host) {
  return !host.empty() && std::all_of(host.begin(), host.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return std::isalnum(c) || c == '-' || c == '.' || c == '_';
  });
}

std::optional<std::string> canonicalHost(std::string_view host, bool bracketed) {
  beast::error_code ec;
  if (bracketed) {
    // No zone ids: "fe80::1%eth0" names an interface of this machine.
    const auto v6 = asio::ip::make_address_v6(std::string(host), ec);
    if (ec || host.find('%') != std::string_view::npos) return std::nullopt;
    return v6.to_string();
  }
  if (!validName(host)) return std::nullopt;
  std::string lower(host);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower;
}

std::optional<std::uint16_t> parsePort(std::string_view text) {
  unsigned port = 0;
  const auto* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, port);
  if (ec != std::errc{} || p != end || port == 0 || port > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(port);
}

}  // namespace

std::optional<Authority> Authority::parse(std::string_view text, std::uint16_t defaultPort) {
  std::string_view host = text;
  std::optional<std::string_view> port;
  const bool bracketed = text.starts_with('[');
  if (bracketed) {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = text.substr(1, close - 1);
    const auto rest = text.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return std::nullopt;
    if (!rest.empty()) port = rest.substr(1);
  } else if (const auto colon = text.find(':'); colon != std::string_view::npos) {
    // An IPv6 address without brackets has more colons: its "port" is invalid.
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  Authority out;
  auto canonical = canonicalHost(host, bracketed);
  if (!canonical) return std::nullopt;
  out.host = std::move(*canonical);
  out.port = defaultPort;
  if (port) {
    const auto parsed = parsePort(*port);
    if (!parsed) return std::nullopt;
    out.port = *parsed;
  }
  return out;
}

std::string Authority::toString() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

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
  rest.resize(std::min(rest.find('#'), rest.size()));  // a fragment is never sent
  const auto pathStart = std::min(rest.find_first_of("/?"), rest.size());
  const auto authority = std::string_view(rest).substr(0, pathStart);
  url.path = rest.substr(pathStart);
  // The path and query go into the request line as they are: a space, a
  // control byte (CR, LF, NUL) or a raw non-ASCII byte there would end it and
  // let a payload's URL write headers or a second request. Percent-encode them.
  for (const unsigned char c : url.path) {
    if (c <= 0x20 || c >= 0x7f || c == '\\') return std::nullopt;
  }
  if (!url.path.empty() && url.path.front() == '?') url.path.insert(0, "/");
  while (!url.path.empty() && url.path.back() == '/') url.path.pop_back();
  if (authority.find('@') != std::string_view::npos) return std::nullopt;  // no credentials
  const auto parsed = Authority::parse(authority, url.port);
  if (!parsed) return std::nullopt;
  url.host = parsed->host;
  url.port = parsed->port;
  return url;
}

namespace {

// IPv4 as IPv4-mapped IPv6: one byte layout for networks of both families.
std::array<std::uint8_t, 16> mappedBytes(const asio::ip::address& a) {
  if (a.is_v4()) return asio::ip::make_address_v6(asio::ip::v4_mapped, a.to_v4()).to_bytes();
  return a.to_v6().to_bytes();
}

bool contains(const IpNetwork& network, const std::array<std::uint8_t, 16>& bytes) {
  for (unsigned bit = 0; bit < network.prefix; ++bit) {
    const auto mask = static_cast<std::uint8_t>(0x80u >> (bit % 8));
    if ((network.bytes[bit / 8] & mask) != (bytes[bit / 8] & mask)) return false;
  }
  return true;
}

struct SpecialRange {
  IpNetwork network;
  std::string_view what;
};

// The special-purpose ranges (RFC 6890) that Boost.Asio's is_loopback,
// is_link_local, is_multicast... do not name.
const std::vector<SpecialRange>& specialRanges() {
  static const auto ranges = [] {
    std::vector<SpecialRange> out;
    for (const auto& [cidr, what] :
         std::initializer_list<std::pair<std::string_view, std::string_view>>{
             {"0.0.0.0/8", "'this network'"},
             {"10.0.0.0/8", "private"},
             {"100.64.0.0/10", "shared address space (CGNAT)"},
             {"169.254.0.0/16", "link-local (cloud metadata)"},
             {"172.16.0.0/12", "private"},
             {"192.0.0.0/24", "reserved"},
             {"192.168.0.0/16", "private"},
             {"198.18.0.0/15", "reserved (benchmarking)"},
             {"240.0.0.0/4", "reserved"},
             {"192.0.2.0/24", "reserved (documentation)"},
             {"198.51.100.0/24", "reserved (documentation)"},
             {"203.0.113.0/24", "reserved (documentation)"},
             {"::/96", "reserved (IPv4-compatible)"},
             // Translated to an IPv4 address of the local network's choosing.
             {"64:ff9b:1::/48", "NAT64 local-use"},
             // A tunnel whose IPv4 end the address hides (obfuscated).
             {"2001::/32", "Teredo tunnel"},
             {"2001:db8::/32", "reserved (documentation)"},
             {"fc00::/7", "private (unique local)"}}) {
      out.push_back({*IpNetwork::parse(cidr), what});
    }
    return out;
  }();
  return ranges;
}

// An IPv4 address a packet to this IPv6 address ends up at: NAT64's
// 64:ff9b::/96 and 6to4's 2002::/16 carry one inside.
std::optional<asio::ip::address_v4> embeddedV4(const asio::ip::address_v6& a) {
  const auto b = a.to_bytes();
  constexpr std::array<std::uint8_t, 12> nat64{0, 0x64, 0xff, 0x9b};
  if (std::equal(nat64.begin(), nat64.end(), b.begin())) {
    return asio::ip::make_address_v4(asio::ip::address_v4::bytes_type{b[12], b[13], b[14], b[15]});
  }
  if (b[0] == 0x20 && b[1] == 0x02) {
    return asio::ip::make_address_v4(asio::ip::address_v4::bytes_type{b[2], b[3], b[4], b[5]});
  }
  return std::nullopt;
}

// What kind of non-public address `a` is, if it is one.
std::optional<std::string> nonPublic(const asio::ip::address& a) {
  if (a.is_v6()) {
    const auto v6 = a.to_v6();
    if (v6.is_v4_mapped()) {
      const auto why = nonPublic(asio::ip::make_address_v4(asio::ip::v4_mapped, v6));
      return why ? std::optional(*why + ", IPv4-mapped") : std::nullopt;
    }
    if (const auto v4 = embeddedV4(v6)) {
      if (const auto why = nonPublic(*v4)) return *why + ", embedded in IPv6";
    }
    if (v6.is_loopback()) return "loopback";
    if (v6.is_unspecified()) return "unspecified";
    if (v6.is_link_local()) return "link-local";
    if (v6.is_site_local()) return "site-local";
    if (v6.is_multicast()) return "multicast";
  } else {
    const auto v4 = a.to_v4();
    if (v4.is_loopback()) return "loopback";
    if (v4.is_unspecified()) return "unspecified";
    if (v4.is_multicast()) return "multicast";
  }
  const auto bytes = mappedBytes(a);
  for (const auto& range : specialRanges()) {
    if (contains(range.network, bytes)) return std::string(range.what);
  }
  return std::nullopt;
}

std::optional<std::string> refusalOf(const AddressPolicy& policy, const asio::ip::address& a) {
  auto why = nonPublic(a);
  if (!why) return std::nullopt;
  const auto bytes = mappedBytes(a);
  for (const auto& allowed : policy.allowedNonPublic) {
    if (contains(allowed, bytes)) return std::nullopt;
  }
  return why;
}

}  // namespace

std::optional<IpNetwork> IpNetwork::parse(std::string_view text) {
  const auto slash = text.find('/');
  const std::string address(text.substr(0, slash));
  beast::error_code ec;
  const auto a = asio::ip::make_address(address, ec);
  if (ec || address.find('%') != std::string::npos) return std::nullopt;
  const unsigned width = a.is_v4() ? 32 : 128;
  unsigned bits = width;
  if (slash != std::string_view::npos) {
    const auto digits = text.substr(slash + 1);
    auto [p, err] = std::from_chars(digits.data(), digits.data() + digits.size(), bits);
    if (err != std::errc{} || p != digits.data() + digits.size() || bits > width) {
      return std::nullopt;
    }
  }
  IpNetwork out;
  out.prefix = bits + (128 - width);
  out.bytes = mappedBytes(a);
  // Host bits are ignored: 10.1.2.3/16 is 10.1.0.0/16.
  for (unsigned bit = out.prefix; bit < 128; ++bit) {
    out.bytes[bit / 8] &= static_cast<std::uint8_t>(~(0x80u >> (bit % 8)));
  }
  return out;
}

std::string IpNetwork::toString() const {
  const auto v6 = asio::ip::make_address_v6(bytes);
  if (v6.is_v4_mapped() && prefix >= 96) {
    return asio::ip::make_address_v4(asio::ip::v4_mapped, v6).to_string() + "/" +
           std::to_string(prefix - 96);
  }
  return v6.to_string() + "/" + std::to_string(prefix);
}

std::optional<std::string> AddressPolicy::refusal(std::string_view address) const {
  beast::error_code ec;
  const auto a = asio::ip::make_address(std::string(address), ec);
  if (ec) return "not an IP address";
  return refusalOf(*this, a);
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

  bool peerAllowedBy(const AddressPolicy& policy) {
    beast::error_code ec;
    const auto peer = tcp.socket().remote_endpoint(ec);
    return !ec && !refusalOf(policy, peer.address());
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
      const auto why = policy ? refusalOf(*policy, next.address()) : std::nullopt;
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
