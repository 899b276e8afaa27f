#include "daemon/cli/dev_trigger.hpp"

#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>

#include "daemon/http_post.hpp"
#include "handlers/signature.hpp"

namespace effectd::daemon {
namespace {

using nlohmann::json;
constexpr std::int64_t kDay = std::int64_t{24} * 3600;

std::string randomId(std::string_view prefix) {
  static constexpr char alphabet[] =
      "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  std::random_device rd;
  std::mt19937_64 rng(rd());
  std::uniform_int_distribution<std::size_t> pick(0, sizeof alphabet - 2);
  std::string out(prefix);
  for (int i = 0; i < 24; ++i) out += alphabet[pick(rng)];
  return out;
}

json subscriptionObject(std::int64_t now, std::string_view org, std::string_view status) {
  const auto periodEnd = now + kDay * 30;
  return {
      {"id", "sub_dev_" + std::string(org)},
      {"object", "subscription"},
      {"customer", "cus_dev_" + std::string(org)},
      {"status", status},
      {"cancel_at", nullptr},
      {"cancel_at_period_end", false},
      {"canceled_at", nullptr},
      {"ended_at", nullptr},
      {"trial_start", nullptr},
      {"trial_end", nullptr},
      {"created", now},
      {"livemode", false},
      {"metadata", {{"organizationId", org}}},
      {"items",
       {{"object", "list"},
        {"data",
         json::array({{{"id", "si_dev_" + std::string(org)},
                       {"object", "subscription_item"},
                       {"quantity", 1},
                       {"current_period_start", now},
                       {"current_period_end", periodEnd},
                       {"price",
                        {{"id", "price_dev_pro_monthly"},
                         {"object", "price"},
                         {"product", "prod_dev_pro"},
                         {"unit_amount", 2900},
                         {"currency", "usd"},
                         {"recurring", {{"interval", "month"}, {"interval_count", 1}}}}}}})}}},
  };
}

json invoiceObject(std::int64_t now, std::string_view org, bool paid) {
  return {
      {"id", randomId("in_dev_")},
      {"object", "invoice"},
      {"customer", "cus_dev_" + std::string(org)},
      {"customer_email", "owner@demo.example"},
      {"amount_due", 2900},
      {"amount_paid", paid ? 2900 : 0},
      {"currency", "usd"},
      {"attempt_count", 1},
      {"status", paid ? "paid" : "open"},
      {"created", now},
      {"livemode", false},
      {"parent",
       {{"type", "subscription_details"},
        {"subscription_details",
         {{"subscription", "sub_dev_" + std::string(org)}, {"metadata", json::object()}}}}},
  };
}

}  // namespace

std::string sampleEvent(std::string_view type, std::string_view org) {
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  json object;
  if (type == "checkout.session.completed") {
    object = {{"id", randomId("cs_test_")},
              {"object", "checkout.session"},
              {"mode", "subscription"},
              {"status", "complete"},
              {"client_reference_id", org},
              {"customer", "cus_dev_" + std::string(org)},
              {"customer_details", {{"email", "owner@demo.example"}}},
              {"subscription", "sub_dev_" + std::string(org)},
              {"metadata", {{"organizationId", org}}}};
  } else if (type == "customer.subscription.deleted") {
    object = subscriptionObject(now, org, "canceled");
    object["canceled_at"] = now;
    object["ended_at"] = now;
  } else if (type == "customer.subscription.paused") {
    object = subscriptionObject(now, org, "paused");
  } else if (type.starts_with("customer.subscription.")) {
    object = subscriptionObject(now, org, "active");
    if (type == "customer.subscription.trial_will_end") {
      object["status"] = "trialing";
      object["trial_start"] = now - kDay * 11;
      object["trial_end"] = now + kDay * 3;
    }
  } else if (type.starts_with("invoice.")) {
    object = invoiceObject(now, org, type != "invoice.payment_failed");
  } else if (type == "customer.deleted" || type.starts_with("customer.")) {
    object = {{"id", "cus_dev_" + std::string(org)},
              {"object", "customer"},
              {"email", "owner@demo.example"},
              {"metadata", {{"organizationId", org}}}};
  } else {
    object = {{"id", randomId("obj_dev_")}, {"object", "unknown"}};
  }
  json event = {{"id", randomId("evt_dev_")},
                {"object", "event"},
                {"api_version", "2025-03-31.basil"},
                {"created", now},
                {"livemode", false},
                {"pending_webhooks", 1},
                {"request", {{"id", nullptr}, {"idempotency_key", nullptr}}},
                {"type", type},
                {"data", {{"object", object}}}};
  return event.dump();
}

int devTrigger(const config::Config& config, const TriggerOptions& options) {
  const auto body = sampleEvent(options.type, options.organizationId);
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  HttpCall call;
  call.target = "/webhooks/stripe";
  call.host = config.listen.host == "0.0.0.0" || config.listen.host == "::" ? "127.0.0.1"
                                                                            : config.listen.host;
  call.port = config.listen.port;
  if (!options.url.empty()) {
    // http://host:port/path only: a development tool for a local daemon.
    const std::string prefix = "http://";
    if (options.url.rfind(prefix, 0) != 0) {
      std::cerr << "effectd dev trigger: --url must start with http://\n";
      return 2;
    }
    const auto rest = options.url.substr(prefix.size());
    const auto slash = rest.find('/');
    const auto authority = rest.substr(0, slash);
    call.target = slash == std::string::npos ? "/" : rest.substr(slash);
    const auto colon = authority.rfind(':');
    call.host = authority.substr(0, colon);
    call.port = colon == std::string::npos
                    ? 80
                    : static_cast<std::uint16_t>(std::stoi(authority.substr(colon + 1)));
  }
  call.headers = {
      {"Content-Type", "application/json"},
      {"Stripe-Signature", handlers::signPayload(config.stripeWebhookSecrets.front(), now, body)}};
  call.body = body;

  const auto event = json::parse(body);
  std::cout << "posting " << options.type << " " << event["id"].get<std::string>() << " to http://"
            << call.host << ":" << call.port << call.target << "\n";
  const auto answer = httpCall(call);
  if (answer.status == 0) {
    std::cerr << "no response: " << answer.error << "\n";
    return 1;
  }
  std::cout << answer.status << " " << answer.body << "\n";
  return answer.status >= 200 && answer.status < 300 ? 0 : 1;
}

}  // namespace effectd::daemon
