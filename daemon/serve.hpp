// `effectd serve`: wires the listener, the intake writer and the health
// monitor together and runs them until SIGTERM or SIGINT.
#pragma once

#include "config/config.hpp"

namespace effectd::daemon {

int serve(const config::Config& config);

}  // namespace effectd::daemon
