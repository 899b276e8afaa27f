// The service manager's side of the lifecycle: sd_notify READY, STOPPING and
// WATCHDOG under systemd (Type=notify); no-ops elsewhere.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace effectd::daemon {

void notifyReady();
void notifyStopping();
void notifyWatchdog();
void notifyStatus(std::string_view status);
// How often to send WATCHDOG=1 (half systemd's WatchdogSec), if enabled.
std::optional<std::chrono::microseconds> watchdogInterval();

}  // namespace effectd::daemon
