// The public listener's site: POST /webhooks/stripe (the event goes to the
// intake writer, and its answer waits for the commit), /healthz and /readyz,
// with Stripe's answers counted for /metrics. Served by http::Listener.
#pragma once

#include <memory>

namespace effectd::http {
class Site;
}

namespace effectd::intake {
class IntakeWriter;
}

namespace effectd::daemon {

class PublicRoutes;

std::shared_ptr<http::Site> makePublicSite(PublicRoutes& routes, intake::IntakeWriter& writer);

}  // namespace effectd::daemon
