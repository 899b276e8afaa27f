#include "daemon/public_routes.hpp"

#include "intake/storable_payload.hpp"

#include <ctime>

#include "handlers/signature.hpp"
#include "handlers/stripe_event.hpp"
#include "queue/channel_pauses.hpp"
#include "sql/database_health.hpp"

namespace effectd::daemon {
namespace {

std::string errorJson(std::string_view message) {
  std::string out = "{\"error\":\"";
  for (char c : message) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) >= 0x20) out += c;
  }
  return out + "\"}";
}

Reply error(unsigned status, std::string_view reason) {
  return Reply{status, errorJson(reason), std::string(reason)};
}

std::string isoTime(std::chrono::system_clock::time_point t) {
  const auto seconds = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char out[32];
  std::strftime(out, sizeof out, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return out;
}

// Ready: a paused kind of effect does not stop Stripe's webhooks from being
// stored, so it never makes /readyz fail (a load balancer would then drop
// the webhooks too). It is named, without the provider's words: this
// listener is public.
std::string readyBody(const queue::ChannelPauses* pauses) {
  const auto paused = pauses ? pauses->paused() : std::vector<queue::ChannelPause>{};
  if (paused.empty()) return R"({"status":"ready"})";
  std::string out = R"({"status":"ready","paused":[)";
  for (std::size_t i = 0; i < paused.size(); ++i) {
    const auto& p = paused[i];
    out += (i ? "," : "");
    out += R"({"kind":")" + std::string(queue::toString(p.kind)) + R"(","provider":")" +
           p.provider + R"(","reason":"credentials refused","since":")" + isoTime(p.since) +
           R"(","retry_at":")" + isoTime(p.retryAt) + R"("})";
  }
  return out + "]}";
}

std::string_view pathOf(std::string_view target) {
  return target.substr(0, target.find('?'));
}

}  // namespace

Decision PublicRoutes::handle(PublicRequest request) const {
  const auto path = pathOf(request.target);
  const bool read = request.method == "GET" || request.method == "HEAD";
  if (path == "/webhooks/stripe") {
    if (request.method != "POST") return error(405, "method not allowed");
    return webhook(request);
  }
  if (path == "/healthz") {
    if (!read) return error(405, "method not allowed");
    return Reply{200, R"({"status":"ok"})", "alive"};
  }
  if (path == "/readyz") {
    if (!read) return error(405, "method not allowed");
    if (draining_) return Reply{503, R"({"status":"shutting down"})", "shutting down"};
    if (!options_.health->reachable()) {
      return Reply{503, R"({"status":"database unreachable"})", "database unreachable", 5};
    }
    return Reply{200, readyBody(options_.pauses), "ready"};
  }
  return error(404, "not found");
}

Decision PublicRoutes::webhook(PublicRequest& request) const {
  const auto& config = *options_.config;
  // The signature is checked on the raw bytes before any parsing.
  const auto signature = handlers::verifySignature(request.stripeSignature, request.body,
                                                   {.secrets = config.stripeWebhookSecrets,
                                                    .tolerance = config.stripeTolerance,
                                                    .now = options_.clock()});
  if (signature != handlers::SignatureError::None) {
    return error(400, handlers::describe(signature));
  }

  // simdjson refuses unpaired surrogate escapes, which JSON allows: the
  // envelope is read from what jsonb will store (the signature was checked
  // on the bytes as sent).
  const auto storable = intake::jsonbStorable(request.body);
  auto parsed = handlers::parseEnvelope(storable ? std::string_view(*storable)
                                                 : std::string_view(request.body));
  if (!parsed.ok()) return error(400, parsed.error);

  const auto policy = config.livemode;
  if ((policy == config::LivemodePolicy::Test && parsed.event.livemode) ||
      (policy == config::LivemodePolicy::Live && !parsed.event.livemode)) {
    return error(400, parsed.event.livemode ? "live event, but STRIPE_LIVEMODE is test"
                                            : "test event, but STRIPE_LIVEMODE is live");
  }
  if (draining_) return unavailable("shutting down");
  return StoreAction{{std::move(parsed.event), std::move(request.body)}};
}

Reply PublicRoutes::afterStore(intake::StoreOutcome outcome) {
  using intake::StoreOutcome;
  switch (outcome) {
    case StoreOutcome::Stored:
      return Reply{200, R"({"received":true})", "stored"};
    case StoreOutcome::Duplicate:
      return Reply{200, R"({"received":true,"duplicate":true})", "duplicate"};
    case StoreOutcome::Refused:
      // Not an outage: Stripe's retries would be refused alike. The log
      // line at error level names the event and the database's reason.
      return error(422, "the database refuses this event's data; effectd's log names why");
    case StoreOutcome::Unavailable:
    case StoreOutcome::Overloaded:
    case StoreOutcome::ShuttingDown:
      return unavailable(intake::describe(outcome));
  }
  return unavailable("unknown outcome");
}

Reply PublicRoutes::bodyTooLarge() const {
  auto reply =
      error(413, "body larger than " + std::to_string(options_.config->maxBodyBytes) + " bytes");
  reply.closeConnection = true;
  return reply;
}

Reply PublicRoutes::unavailable(std::string_view reason) {
  Reply reply = error(503, reason);
  reply.retryAfterSeconds = 5;
  return reply;
}

}  // namespace effectd::daemon
