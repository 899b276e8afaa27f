// The channels the configuration names (EMAIL_PROVIDER, ANALYTICS_PROVIDER,
// the webhook allow-lists): where configuration meets the queue, so that the
// queue itself never reads the configuration.
#pragma once

#include <memory>

#include "config/config.hpp"
#include "queue/drainer.hpp"

namespace effectd::daemon {

std::shared_ptr<queue::Channels> makeChannels(const config::Config& config);

}  // namespace effectd::daemon
