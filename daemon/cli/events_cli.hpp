// `effectd events list|show|replay`: the operator's view of StripeWebhookEvent.
#pragma once

#include <string>

#include "config/config.hpp"
#include "intake/stored_events.hpp"

namespace effectd::daemon {

int eventsList(const config::Config& config, const intake::EventFilter& filter, bool asJson);
int eventsShow(const config::Config& config, const std::string& id, bool asJson);
// Re-runs the handler of each matching event, one transaction each; replaying
// an event changes nothing its first successful run did not.
// relink: the operator's decision that a checkout may move its organization
// away from a customer whose subscription is live (one named event only).
int eventsReplay(const config::Config& config, intake::EventFilter filter, bool asJson,
                 bool relink);

}  // namespace effectd::daemon
