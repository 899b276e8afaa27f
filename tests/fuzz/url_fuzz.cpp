// URLs, host[:port] authorities and IP networks, as webhooks' and the
// configuration's inputs. Invariants: what parses prints back to a text that
// parses to the same value.
#include <string>

#include "http/url.hpp"
#include "tests/fuzz/fuzz_target.hpp"

using namespace effectd::http;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(asText(data, size));
  if (const auto url = Url::parse(text)) {
    FUZZ_CHECK(!url->host.empty());
    FUZZ_CHECK(url->port != 0);
  }
  if (const auto authority = Authority::parse(text, 443)) {
    const auto again = Authority::parse(authority->toString(), 443);
    FUZZ_CHECK(again && *again == *authority);
  }
  if (const auto network = IpNetwork::parse(text)) {
    const auto again = IpNetwork::parse(network->toString());
    FUZZ_CHECK(again && again->bytes == network->bytes && again->prefix == network->prefix);
  }
  return 0;
}
