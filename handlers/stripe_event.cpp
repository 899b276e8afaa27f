#include "handlers/stripe_event.hpp"

#include <nlohmann/json.hpp>

namespace effectd::handlers {

ParsedEnvelope parseEnvelope(std::string_view body) {
  using nlohmann::json;
  ParsedEnvelope out;
  // Only the top level is kept: the event's object is read once, by its
  // handler on a writer thread, and building it here too cost a second DOM
  // of every 3-6 KB event on the I/O thread.
  const json::parser_callback_t topLevelOnly = [](int depth, json::parse_event_t event, json&) {
    return depth == 0 || (event != json::parse_event_t::object_start &&
                          event != json::parse_event_t::array_start);
  };
  const json doc = json::parse(body, topLevelOnly, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return {{}, "body is not valid JSON"};
  if (!doc.is_object()) return {{}, "body is not a JSON object"};

  auto text = [&doc](const char* key) -> const std::string* {
    auto it = doc.find(key);
    return it != doc.end() && it->is_string() ? it->get_ptr<const std::string*>() : nullptr;
  };
  const auto* id = text("id");
  if (!id || id->empty() || id->size() > 255) return {{}, "event has no string 'id'"};
  const auto* type = text("type");
  if (!type || type->empty() || type->size() > 255) return {{}, "event has no string 'type'"};
  auto created = doc.find("created");
  if (created == doc.end() || !created->is_number_integer() || created->get<std::int64_t>() <= 0) {
    return {{}, "event has no integer 'created'"};
  }
  if (auto object = doc.find("object"); object != doc.end() && *object != "event") {
    return {{}, "object is not 'event'"};
  }
  auto livemode = doc.find("livemode");
  if (livemode != doc.end() && !livemode->is_boolean()) return {{}, "'livemode' is not a boolean"};

  out.event.id = *id;
  out.event.type = *type;
  out.event.created = created->get<std::int64_t>();
  out.event.livemode = livemode != doc.end() && livemode->get<bool>();
  if (const auto* v = text("api_version")) out.event.apiVersion = *v;
  if (const auto* a = text("account")) out.event.account = *a;
  return out;
}

}  // namespace effectd::handlers
