#include "http/url.hpp"

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <cctype>
#include <charconv>

namespace effectd::http {
namespace {

namespace asio = boost::asio;

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
  boost::system::error_code ec;
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
  boost::system::error_code ec;
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
  boost::system::error_code ec;
  const auto a = asio::ip::make_address(std::string(address), ec);
  if (ec) return "not an IP address";
  return refusalOf(*this, a);
}

}  // namespace effectd::http
