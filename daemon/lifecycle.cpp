#include "daemon/lifecycle.hpp"

#include <systemd/sd-daemon.h>

#include <string>

namespace effectd::daemon {

void notifyReady() {
  sd_notify(0, "READY=1\nSTATUS=serving");
}
void notifyStopping() {
  sd_notify(0, "STOPPING=1\nSTATUS=stopping");
}
void notifyWatchdog() {
  sd_notify(0, "WATCHDOG=1");
}
void notifyStatus(std::string_view status) {
  sd_notify(0, ("STATUS=" + std::string(status)).c_str());
}

std::optional<std::chrono::microseconds> watchdogInterval() {
  std::uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
    return std::chrono::microseconds(usec / 2);
  }
  return std::nullopt;
}

}  // namespace effectd::daemon
