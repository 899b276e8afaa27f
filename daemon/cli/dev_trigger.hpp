// `effectd dev trigger <type>`: like `stripe trigger`, builds a sample event of
// that type, signs it with the configured secret and posts it to a running
// daemon, so a developer can try the whole path without a Stripe account.
#pragma once

#include <string>
#include <string_view>

#include "config/config.hpp"

namespace effectd::daemon {

struct TriggerOptions {
  std::string type;            // e.g. customer.subscription.created
  std::string organizationId;  // put in metadata / client_reference_id
  std::string url;             // empty: http://<EFFECTD_LISTEN>/webhooks/stripe
};

// A sample event in the current API shape, with a fresh id and `created` now.
std::string sampleEvent(std::string_view type, std::string_view organizationId);

// Prints the response; returns the process exit code (0 on a 2xx).
int devTrigger(const config::Config& config, const TriggerOptions& options);

}  // namespace effectd::daemon
