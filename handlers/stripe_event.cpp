#include "handlers/stripe_event.hpp"

#include <simdjson.h>

#include <array>
#include <optional>

namespace effectd::handlers {
namespace {

// The top-level fields the envelope reads, each at most once: a key given
// twice would mean one value here and another in the stored JSONB (which
// keeps the last).
enum Field { Id, Type, Created, Object, Livemode, ApiVersion, Account, kFields };
constexpr std::array<std::string_view, kFields> kNames = {
    "id", "type", "created", "object", "livemode", "api_version", "account"};

std::optional<std::string_view> text(const std::optional<simdjson::dom::element>& e) {
  if (!e) return std::nullopt;
  std::string_view s;
  if (e->get_string().get(s) != simdjson::SUCCESS) return std::nullopt;
  return s;
}

constexpr std::size_t kKeepCapacity = std::size_t{256} * 1024;

}  // namespace

ParsedEnvelope parseEnvelope(std::string_view body) {
  // simdjson validates the whole document (grammar and UTF-8) at a few
  // gigabytes per second; the event's object is read once, by its handler on
  // a writer thread. One parser per thread, reused: it keeps its buffers.
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(body.data(), body.size(), /*realloc_if_needed=*/true).get(doc) !=
      simdjson::SUCCESS) {
    return {{}, "body is not valid JSON"};
  }
  simdjson::dom::object top;
  if (doc.get_object().get(top) != simdjson::SUCCESS) return {{}, "body is not a JSON object"};

  std::array<std::optional<simdjson::dom::element>, kFields> fields;
  for (const auto field : top) {
    for (std::size_t i = 0; i < kFields; ++i) {
      if (field.key != kNames[i]) continue;
      if (fields[i]) return {{}, "event has '" + std::string(kNames[i]) + "' twice"};
      fields[i] = field.value;
    }
  }

  const auto id = text(fields[Id]);
  if (!id || id->empty() || id->size() > 255) return {{}, "event has no string 'id'"};
  const auto type = text(fields[Type]);
  if (!type || type->empty() || type->size() > 255) return {{}, "event has no string 'type'"};
  std::int64_t created = 0;
  // At most 9999-12-31: PostgreSQL's timestamps end there.
  if (!fields[Created] || fields[Created]->get_int64().get(created) != simdjson::SUCCESS ||
      created <= 0 || created > 253402300799) {
    return {{}, "event has no integer 'created'"};
  }
  if (fields[Object] && text(fields[Object]) != std::optional<std::string_view>("event")) {
    return {{}, "object is not 'event'"};
  }
  bool livemode = false;
  if (fields[Livemode] && fields[Livemode]->get_bool().get(livemode) != simdjson::SUCCESS) {
    return {{}, "'livemode' is not a boolean"};
  }

  ParsedEnvelope out;
  out.event.id = *id;
  out.event.type = *type;
  out.event.created = created;
  out.event.livemode = livemode;
  if (const auto v = text(fields[ApiVersion])) out.event.apiVersion = *v;
  if (const auto a = text(fields[Account])) out.event.account = *a;
  // The parser keeps buffers of about 15 bytes per byte of the largest body
  // it has seen: after an unusually large one (the limit is 1 MiB by
  // default), they go.
  if (parser.capacity() > kKeepCapacity) parser = simdjson::dom::parser();
  return out;
}

}  // namespace effectd::handlers
