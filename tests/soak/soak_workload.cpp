#include "tests/soak/soak_workload.hpp"

#include <pqxx/pqxx>

#include "tests/support/daemon.hpp"
#include "tests/support/stripe_fixtures.hpp"

namespace effectd::soak {

using testing::ApiShape;

Workload makeWorkload(const std::string& tag, int organizations, testing::StripeSigner& signer,
                      const std::string& secret) {
  Workload w;
  const auto now = testing::unixNow();
  auto started = [&](int u) {
    const auto n = tag + std::to_string(u);
    const auto shape = u % 2 == 0 ? ApiShape::Current : ApiShape::Legacy;
    testing::SubscriptionSpec s{.id = "sub_" + n,
                                .customer = "cus_" + n,
                                .status = "active",
                                .created = now - 60,
                                .periodStart = now - 60,
                                .periodEnd = now + 30 * 86400,
                                .organizationId = "org_" + n};
    w.effectKeys.insert("email:subscription_started:sub_" + n);
    w.effectKeys.insert("analytics:subscription_started:sub_" + n);
    return std::pair{"evt_" + n + "_c",
                     testing::subscriptionEvent(shape, "evt_" + n + "_c",
                                                "customer.subscription.created", now - 60, s)};
  };
  auto invoice = [&](int u, bool paid) {
    const auto n = tag + std::to_string(u);
    const auto shape = u % 2 == 0 ? ApiShape::Current : ApiShape::Legacy;
    const auto id = std::string(paid ? "in_p" : "in_f") + n;
    const auto eventId = "evt_" + n + (paid ? "_p" : "_f");
    if (paid) {
      w.effectKeys.insert("analytics:invoice_paid:" + id);
    } else {
      w.effectKeys.insert("email:payment_failed:" + id + ":1");
      w.effectKeys.insert("analytics:payment_failed:" + id + ":1");
    }
    return std::pair{
        eventId, testing::invoiceEvent(
                     shape, eventId, paid ? "invoice.paid" : "invoice.payment_failed", now - 50,
                     {.id = id, .customer = "cus_" + n, .subscription = "sub_" + n, .paid = paid})};
  };
  // A unit's invoices follow its subscription by 10 and 20 places: in order
  // on a quiet day, out of order once retries mix them up.
  for (int i = 0; i < organizations + 20; ++i) {
    std::vector<std::pair<std::string, std::string>> due;
    if (i < organizations) due.push_back(started(i));
    if (i >= 10 && i - 10 < organizations) due.push_back(invoice(i - 10, true));
    if (i >= 20) due.push_back(invoice(i - 20, false));
    for (auto& [id, body] : due) {
      auto signature = signer.sign(body, secret);
      w.events.push_back({.id = id, .body = std::move(body), .signature = std::move(signature)});
    }
  }
  return w;
}

void seedOrganizations(pqxx::connection_base& conn, const std::string& tag, int organizations) {
  pqxx::work tx(conn);
  const auto n = std::to_string(organizations - 1);
  tx.exec_params(R"(INSERT INTO "Organization" ("id", "name", "slug", "createdAt")
                    SELECT 'org_' || $1 || g, 'Soak ' || g, 'org_' || $1 || g, now()
                    FROM generate_series(0, $2::int) g)",
                 tag, n);
  tx.exec_params(
      R"(INSERT INTO "User" ("id", "name", "email", "emailVerified", "createdAt", "updatedAt")
                    SELECT 'user_' || $1 || g, 'Owner', 'owner' || $1 || g || '@soak.example', true, now(), now()
                    FROM generate_series(0, $2::int) g)",
      tag, n);
  tx.exec_params(R"(INSERT INTO "Member" ("id", "organizationId", "userId", "role", "createdAt")
                    SELECT 'member_' || $1 || g, 'org_' || $1 || g, 'user_' || $1 || g, 'owner', now()
                    FROM generate_series(0, $2::int) g)",
                 tag, n);
  tx.commit();
}

}  // namespace effectd::soak
