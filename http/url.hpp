// Where an outgoing request goes, and where it may not: a URL's authority
// and the URL as effectd's settings and providers spell them, IP networks,
// and the address policy the HTTP client checks every connection against.
// Pure parsing, no I/O: the settings use it as much as the client does.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace effectd::http {

// `host[:port]` as in a URL's authority: a name, an IPv4 address, or an IPv6
// address in brackets. Names are lower-cased and IP literals written the
// canonical way, so two spellings of one host compare equal.
struct Authority {
  std::string host;  // IPv6 without the brackets
  std::uint16_t port = 0;
  static std::optional<Authority> parse(std::string_view text, std::uint16_t defaultPort);
  std::string toString() const;  // host:port, [v6]:port
  auto operator<=>(const Authority&) const = default;
};

struct Url {
  bool tls = true;
  std::string host;
  std::uint16_t port = 443;
  std::string path;  // without a trailing slash; "" for the root
  static std::optional<Url> parse(const std::string& text);
  Authority authority() const { return {host, port}; }
};

// An IP network such as 10.1.0.0/16 or fd00::/8; a bare address is a network
// of one. IPv4 is held as IPv4-mapped IPv6, so one comparison serves both.
struct IpNetwork {
  std::array<std::uint8_t, 16> bytes{};
  unsigned prefix = 0;  // leading bits of `bytes` that count
  static std::optional<IpNetwork> parse(std::string_view text);
  std::string toString() const;
};

// Which addresses a request may connect to. The client checks every resolved
// address right before connecting to it (and the peer of a kept-alive
// connection before reusing it), so a name cannot pass a check with one
// address and then connect to another (DNS rebinding).
struct AddressPolicy {
  // Loopback, private, link-local, shared (CGNAT), multicast, unspecified and
  // reserved addresses, IPv4-mapped or embedded in IPv6 too, are refused,
  // except within these networks.
  std::vector<IpNetwork> allowedNonPublic;
  // Why `address` may not be connected to ("loopback", ...), or nothing.
  std::optional<std::string> refusal(std::string_view address) const;
};

}  // namespace effectd::http
