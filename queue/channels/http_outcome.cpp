#include "queue/channels/http_outcome.hpp"

#include <charconv>

namespace effectd::queue {

DeliveryResult classifyHttp(const HttpResponse& r, bool idempotent, std::string_view provider) {
  const std::string who(provider);
  if (r.status == 0) {
    if (!r.mayHaveBeenSent) return DeliveryResult::retry(who + ": " + r.error + " (not sent)");
    if (idempotent) return DeliveryResult::retry(who + ": " + r.error);
    return DeliveryResult::unknown(who + ": " + r.error +
                                   " after the request was sent; it may have been delivered");
  }
  if (r.status >= 200 && r.status < 300) return DeliveryResult::sent();
  std::string message = who + ": HTTP " + std::to_string(r.status);
  if (!r.body.empty()) message += ": " + r.body.substr(0, 300);
  // These can come after the provider accepted the message: its own 500
  // (Postmark's "internal server error" may follow the send), a gateway's
  // 502 or 504, a CDN's 520 (unknown origin answer) or 524 (the origin took
  // the request and did not answer in time). The outcome is not known. A
  // provider that deduplicates on the key may be asked again; the others
  // must not be. A CDN's 521, 522, 523, 525 and 526 say the origin was never
  // reached: those are retried.
  const bool mayHaveDelivered =
      r.status == 500 || r.status == 502 || r.status == 504 || r.status == 520 || r.status == 524;
  if (mayHaveDelivered && !idempotent) {
    return DeliveryResult::unknown(message +
                                   " (after the request was sent; it may have been delivered)");
  }
  // Our API key or token refused: nothing was delivered, and every other
  // effect would be refused too. The drainer pauses the kind instead of
  // burning the backlog's attempts into dead.
  if (r.status == 401 || r.status == 403) {
    return DeliveryResult::refused(message);
  }
  const bool temporary =
      r.status == 408 || r.status == 409 || r.status == 425 || r.status == 429 || r.status >= 500;
  if (!temporary) return DeliveryResult::dead(message);
  std::optional<std::chrono::seconds> after;
  const auto header = r.header("Retry-After");
  long seconds = 0;
  auto [end, ec] = std::from_chars(header.data(), header.data() + header.size(), seconds);
  if (!header.empty() && ec == std::errc{} && end == header.data() + header.size() &&
      seconds >= 0) {
    after = std::chrono::seconds(std::min(seconds, 86400L));
  }
  return DeliveryResult::retry(message, after);
}

}  // namespace effectd::queue
