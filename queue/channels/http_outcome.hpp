// What an HTTP provider's answer means for an effect (DESIGN.md "Outcome"):
// 2xx sent; 408, 409, 425, 429, 5xx and network errors retried (Retry-After
// respected); 401 and 403 refused (our credentials: the kind pauses); other
// 4xx dead with the provider's message. Without an answer,
// a request that may have left is retried only by an idempotent channel and
// is `unknown` otherwise.
#pragma once

#include <string_view>

#include "queue/effect.hpp"
#include "queue/http_client.hpp"

namespace effectd::queue {

DeliveryResult classifyHttp(const HttpResponse& response, bool idempotent,
                            std::string_view provider);

}  // namespace effectd::queue
