// The effects billing events cause (DESIGN.md's effects table), decided from
// the event itself, never from the row's state when it happens to arrive:
// the same events give the same effects in any order, and the semantic keys
// make "first" and "once" hold.
#pragma once

#include <string>

#include "handlers/handler.hpp"
#include "handlers/stripe_objects.hpp"

namespace effectd::handlers {

void enqueueSubscriptionEffects(HandlerContext& ctx, const SubscriptionObject& subscription,
                                const std::string& organizationId);
void enqueueInvoiceEffects(HandlerContext& ctx, const InvoiceObject& invoice,
                           const std::string& organizationId);

std::string isoTime(std::int64_t unixSeconds);

}  // namespace effectd::handlers
