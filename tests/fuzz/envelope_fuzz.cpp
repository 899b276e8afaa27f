// A signed body as the intake reads it: the envelope (simdjson), then the
// handlers' reading of data.object (nlohmann), in either API shape.
// Invariants: an accepted envelope has an id and a type; reading the object
// throws nothing but nlohmann's errors (a field of the wrong type) and
// std::invalid_argument (a required field missing): the handler turns both
// into a failed event.
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "handlers/stripe_event.hpp"
#include "handlers/stripe_objects.hpp"
#include "tests/fuzz/fuzz_target.hpp"

using namespace effectd::handlers;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto body = asText(data, size);
  const auto parsed = parseEnvelope(body);
  if (!parsed.ok()) return 0;
  FUZZ_CHECK(!parsed.event.id.empty());
  FUZZ_CHECK(!parsed.event.type.empty());
  const auto event = nlohmann::json::parse(body, nullptr, false);
  FUZZ_CHECK(!event.is_discarded());  // simdjson accepted it: so must nlohmann
  const auto objectIt = event.find("data");
  if (objectIt == event.end() || !objectIt->is_object() || !objectIt->contains("object")) return 0;
  const auto& object = (*objectIt)["object"];
  try {
    (void)readSubscription(object);
    (void)readInvoice(object);
    (void)readCheckoutSession(object);
    (void)idOf(object);
  } catch (const nlohmann::json::exception&) {
    // A field of the wrong type: the handler fails the event, as it should.
  } catch (const std::invalid_argument&) {
    // A required field missing: the same.
  }
  return 0;
}
