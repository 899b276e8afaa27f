// Each provider channel against a local stand-in speaking its HTTP API: the
// exact request it receives, and what every kind of answer (or silence)
// does to the effect. One stand-in serves HTTPS with a test CA.
#include <gtest/gtest.h>

#include "base/hex.hpp"

#include <signal.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "queue/channels/providers.hpp"
#include "queue/channels/smtp_email.hpp"
#include "queue/email_message.hpp"
#include "sql/ids.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/process.hpp"
#include "tests/support/standin.hpp"

namespace effectd::queue {
namespace {

using nlohmann::json;
using testing::eventually;
using testing::ProviderStandIn;
using testing::SmtpServer;
using testing::TestCertificates;
using Outcome = DeliveryResult::Outcome;

std::shared_ptr<const HttpClient> client(std::string caFile = {}) {
  return std::make_shared<const HttpClient>(
      HttpClient::Options{.caFile = std::move(caFile),
                          .connectTimeout = std::chrono::milliseconds(2000),
                          .requestTimeout = std::chrono::milliseconds(1000)});
}

ClaimedEffect email(const std::string& key) {
  return {.id = "id-" + key,
          .key = key,
          .kind = EffectKind::Email,
          .payload = R"({"to":["a@example.com","b@example.com"],"subject":"Hello","text":"Hi",
                         "html":"<p>Hi</p>","replyTo":"help@example.com"})",
          .attempts = 1,
          .maxAttempts = 12};
}

ClaimedEffect analytics(const std::string& key) {
  return {.id = "id-" + key,
          .key = key,
          .kind = EffectKind::Analytics,
          .payload = R"({"event":"invoice_paid","distinctId":"org_1","properties":{"amount":2900},
                         "timestamp":"2025-10-09T08:53:23Z"})",
          .attempts = 1,
          .maxAttempts = 12};
}

// Resend keeps idempotency keys of up to 256 characters: two longer keys
// that share their first 256 are two emails, each under its own hash.
TEST(ProvidersE2eTest, AKeyLongerThanResendKeepsIsHashedNotCut) {
  ProviderStandIn standIn;
  ResendChannel resend(client(), *Url::parse(standIn.url() + "/"), "re_test_key",
                       "Billing <billing@x.example>");
  const std::string common = "email:digest:" + std::string(250, 'x');
  ASSERT_EQ(resend.deliver(email(common + ":org_a")).outcome, Outcome::Sent);
  ASSERT_EQ(resend.deliver(email(common + ":org_b")).outcome, Outcome::Sent);
  ASSERT_EQ(resend.deliver(email(std::string(256, 'k'))).outcome, Outcome::Sent);
  const auto requests = standIn.requests();
  ASSERT_EQ(requests.size(), 3u);
  const auto a = requests[0]["headers"]["idempotency-key"].get<std::string>();
  const auto b = requests[1]["headers"]["idempotency-key"].get<std::string>();
  EXPECT_NE(a, b);
  EXPECT_EQ(a, "sha256:" + sha256Hex(common + ":org_a"));
  EXPECT_LE(a.size(), 256u);
  EXPECT_EQ(requests[2]["headers"]["idempotency-key"], std::string(256, 'k'));  // at the limit
}

TEST(ProvidersE2eTest, ResendReceivesTheKeyAsIdempotencyKey) {
  ProviderStandIn standIn;
  ResendChannel resend(client(), *Url::parse(standIn.url() + "/"), "re_test_key",
                       "Billing <billing@x.example>");
  const auto result = resend.deliver(email("email:payment_failed:in_1:1"));
  EXPECT_EQ(result.outcome, Outcome::Sent) << result.error;
  EXPECT_EQ(result.providerMessageId, "re_1");
  const auto requests = standIn.requests();
  ASSERT_EQ(requests.size(), 1u);
  const auto& r = requests[0];
  EXPECT_EQ(r["path"], "/emails");
  EXPECT_EQ(r["headers"]["authorization"], "Bearer re_test_key");
  EXPECT_EQ(r["headers"]["idempotency-key"], "email:payment_failed:in_1:1");
  const auto body = json::parse(r["body"].get<std::string>());
  EXPECT_EQ(body["from"], "Billing <billing@x.example>");
  EXPECT_EQ(body["to"], json::array({"a@example.com", "b@example.com"}));
  EXPECT_EQ(body["subject"], "Hello");
  EXPECT_EQ(body["html"], "<p>Hi</p>");
  EXPECT_EQ(body["text"], "Hi");
  EXPECT_EQ(body["reply_to"], "help@example.com");
}

TEST(ProvidersE2eTest, EveryAnswerEndsInThePrescribedOutcome) {
  ProviderStandIn standIn;
  standIn.plan(testing::failingAnswers());
  const auto base = *Url::parse(standIn.url());
  ResendChannel resend(client(), base, "k", "f@x.example");
  auto r400 = resend.deliver(email("a"));
  EXPECT_EQ(r400.outcome, Outcome::Dead);
  EXPECT_NE(r400.error.find("HTTP 400"), std::string::npos);
  EXPECT_NE(r400.error.find("invalid to"), std::string::npos);
  EXPECT_EQ(resend.deliver(email("c")).outcome, Outcome::Retry);  // 409
  const auto r429 = resend.deliver(email("d"));
  EXPECT_EQ(r429.outcome, Outcome::Retry);
  ASSERT_TRUE(r429.retryAfter.has_value());
  EXPECT_EQ(r429.retryAfter->count(), 7);
  EXPECT_EQ(resend.deliver(email("e")).outcome, Outcome::Retry);  // 500
  // Hung and dropped: Resend deduplicates, so a retry is safe.
  EXPECT_EQ(resend.deliver(email("f")).outcome, Outcome::Retry);
  EXPECT_EQ(resend.deliver(email("g")).outcome, Outcome::Retry);

  // Our key refused: nothing was sent, and the drainer pauses the kind.
  standIn.plan(json::array(
      {{{"status", 401}, {"body", {{"message", "API key is invalid"}}}}, {{"status", 403}}}));
  const auto r401 = resend.deliver(email("b"));
  EXPECT_EQ(r401.outcome, Outcome::Refused);
  EXPECT_NE(r401.error.find("API key is invalid"), std::string::npos) << r401.error;
  EXPECT_EQ(resend.deliver(email("b2")).outcome, Outcome::Refused);
  // But a 403 about this message alone is final for it, and pauses nothing.
  standIn.plan(json::array(
      {{{"status", 403},
        {"body",
         {{"name", "validation_error"}, {"message", "The example.com domain is not verified"}}}}}));
  const auto unverified = resend.deliver(email("b3"));
  EXPECT_EQ(unverified.outcome, Outcome::Dead) << unverified.error;
  EXPECT_NE(unverified.error.find("not verified"), std::string::npos) << unverified.error;

  // Postmark cannot deduplicate: the same silences leave the outcome unknown.
  standIn.plan(json::array({{{"hang", 3}}, {{"drop", true}}}));
  PostmarkChannel postmark(client(), base, "pm-token", "f@x.example");
  const auto hung = postmark.deliver(email("h"));
  EXPECT_EQ(hung.outcome, Outcome::Unknown) << hung.error;
  EXPECT_EQ(postmark.deliver(email("i")).outcome, Outcome::Unknown);
  // A refused connection is known not to have sent anything.
  PostmarkChannel nowhere(client(), *Url::parse("http://127.0.0.1:1"), "pm-token", "f@x.example");
  const auto refused = nowhere.deliver(email("j"));
  EXPECT_EQ(refused.outcome, Outcome::Retry);
  EXPECT_NE(refused.error.find("not sent"), std::string::npos);
}

TEST(ProvidersE2eTest, ConnectionsAreKeptAliveAndAClosedOneIsNotAnUnknownOutcome) {
  ProviderStandIn standIn;
  const auto http = client();
  const auto base = *Url::parse(standIn.url());
  ResendChannel resend(http, base, "k", "f@x.example");
  PostmarkChannel postmark(http, base, "pm-token", "f@x.example");
  for (const auto* key : {"k1", "k2", "k3"}) {
    EXPECT_EQ(resend.deliver(email(key)).outcome, Outcome::Sent);
  }
  EXPECT_EQ(postmark.deliver(email("k4")).outcome, Outcome::Sent);
  auto requests = standIn.requests();
  ASSERT_EQ(requests.size(), 4u);
  for (const auto& r : requests) EXPECT_EQ(r["connection"], requests[0]["connection"]);
  EXPECT_EQ(http->idleConnections(), 1u);

  // The server answers, then closes the kept-alive connection behind our back
  // (its idle timeout). Postmark cannot deduplicate, so its next email must
  // go out on a new connection rather than end up "unknown" on the dead one.
  standIn.plan(json::array({{{"status", 200}, {"close", true}}}));
  EXPECT_EQ(postmark.deliver(email("k5")).outcome, Outcome::Sent);
  // Once the server has closed it, as one idle in a pool long has been.
  const int closedOne = standIn.requests().back()["connection"].get<int>();
  ASSERT_TRUE(eventually(
      [&] {
        const auto closed = standIn.closedConnections();
        return std::find(closed.begin(), closed.end(), closedOne) != closed.end();
      },
      std::chrono::seconds(5)));
  const auto afterClose = postmark.deliver(email("k6"));
  EXPECT_EQ(afterClose.outcome, Outcome::Sent) << afterClose.error;
  // Resend right after the close, without waiting: whether the client sees
  // the close before writing or only on reading, the key is sent once more
  // at most, on a new connection, and Resend deduplicates it.
  standIn.plan(json::array({{{"status", 200}, {"close", true}}}));
  EXPECT_EQ(resend.deliver(email("k7")).outcome, Outcome::Sent);
  const auto raced = resend.deliver(email("k8"));
  EXPECT_EQ(raced.outcome, Outcome::Sent) << raced.error;

  // The stand-in saw each email once: a request written to a closed socket
  // never reached it.
  requests = standIn.requests();
  EXPECT_EQ(requests.size(), 8u);
  EXPECT_NE(requests[5]["connection"], requests[4]["connection"]);
  EXPECT_NE(requests.back()["connection"], requests[6]["connection"]);
}

// An interim 103 Early Hints precedes the real answer: the effect is judged by
// the final 200, and the kept-alive connection serves the next request cleanly.
TEST(ProvidersE2eTest, AnInterimAnswerIsNotTheOutcome) {
  ProviderStandIn standIn;
  standIn.plan(json::array({{{"status", 200}, {"early", true}, {"body", {{"id", "re_after_103"}}}},
                            {{"status", 200}, {"body", {{"id", "re_next"}}}}}));
  ResendChannel resend(client(), *Url::parse(standIn.url()), "k", "f@x.example");
  const auto first = resend.deliver(email("early:1"));
  EXPECT_EQ(first.outcome, Outcome::Sent) << first.error;
  EXPECT_EQ(first.providerMessageId, "re_after_103");
  const auto second = resend.deliver(email("early:2"));
  EXPECT_EQ(second.providerMessageId, "re_next");
  EXPECT_EQ(standIn.requests().size(), 2u);
}

TEST(ProvidersE2eTest, PostmarkRequestShape) {
  ProviderStandIn standIn;
  standIn.plan(json::array({{{"status", 200}, {"body", {{"MessageID", "pm-42"}}}}}));
  PostmarkChannel postmark(client(), *Url::parse(standIn.url()), "pm-token", "f@x.example");
  const auto result = postmark.deliver(email("email:k"));
  EXPECT_EQ(result.outcome, Outcome::Sent);
  EXPECT_EQ(result.providerMessageId, "pm-42");
  const auto r = standIn.requests().at(0);
  EXPECT_EQ(r["path"], "/email");
  EXPECT_EQ(r["headers"]["x-postmark-server-token"], "pm-token");
  const auto body = json::parse(r["body"].get<std::string>());
  EXPECT_EQ(body["To"], "a@example.com, b@example.com");
  EXPECT_EQ(body["TextBody"], "Hi");
  EXPECT_EQ(body["Headers"][0]["Value"], messageIdFor("email:k"));
}

TEST(ProvidersE2eTest, PostHogGetsAUuidDerivedFromTheKeyAndTheFixedTimestamp) {
  ProviderStandIn standIn;
  PostHogChannel posthog(client(), *Url::parse(standIn.url()), "phc_key");
  ASSERT_EQ(posthog.deliver(analytics("analytics:invoice_paid:in_1")).outcome, Outcome::Sent);
  ASSERT_EQ(posthog.deliver(analytics("analytics:invoice_paid:in_1")).outcome, Outcome::Sent);
  const auto requests = standIn.requests();
  ASSERT_EQ(requests.size(), 2u);
  const auto first = json::parse(requests[0]["body"].get<std::string>());
  const auto second = json::parse(requests[1]["body"].get<std::string>());
  EXPECT_EQ(requests[0]["path"], "/batch/");
  EXPECT_EQ(first["api_key"], "phc_key");
  const auto& event = first["batch"][0];
  EXPECT_EQ(event["event"], "invoice_paid");
  EXPECT_EQ(event["distinct_id"], "org_1");
  EXPECT_EQ(event["timestamp"], "2025-10-09T08:53:23Z");
  EXPECT_EQ(event["uuid"], sql::uuidV5("analytics:invoice_paid:in_1"));
  EXPECT_EQ(event["uuid"].get<std::string>()[14], '5');  // version 5
  EXPECT_EQ(second["batch"][0], event) << "a retry is byte-for-byte the same event";
}

TEST(ProvidersE2eTest, SegmentGetsTheKeyAsMessageId) {
  ProviderStandIn standIn;
  SegmentChannel segment(client(), *Url::parse(standIn.url()), "seg_write");
  ASSERT_EQ(segment.deliver(analytics("analytics:x")).outcome, Outcome::Sent);
  const auto r = standIn.requests().at(0);
  EXPECT_EQ(r["path"], "/v1/track");
  EXPECT_EQ(r["headers"]["authorization"], "Basic c2VnX3dyaXRlOg==");  // "seg_write:"
  const auto body = json::parse(r["body"].get<std::string>());
  EXPECT_EQ(body["messageId"], "analytics:x");
  EXPECT_EQ(body["userId"], "org_1");
  EXPECT_EQ(body["properties"]["amount"], 2900);
}

// The stand-in is plain http on 127.0.0.1: both need the operator's say-so.
WebhookTargets plainLoopback(const ProviderStandIn& standIn) {
  WebhookTargets targets;
  targets.http.insert(Url::parse(standIn.url())->authority());
  targets.addresses.allowedNonPublic.push_back(*http::IpNetwork::parse("127.0.0.0/8"));
  return targets;
}

ClaimedEffect webhookTo(const std::string& url) {
  return {.id = "id-w",
          .key = "webhook:order:1",
          .kind = EffectKind::Webhook,
          .payload = json{{"url", url},
                          {"body", {{"type", "subscription.started"}}},
                          {"headers", {{"X-Tenant", "org_1"}}}}
                         .dump(),
          .attempts = 1,
          .maxAttempts = 12};
}

TEST(ProvidersE2eTest, WebhooksAreSignedAndOnlyGoToAllowedHosts) {
  const std::string secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  ProviderStandIn standIn({.webhookSecret = secret});
  WebhookChannel webhook(client(), plainLoopback(standIn), secret);
  const auto effect = webhookTo(standIn.url() + "/hooks/billing");
  ASSERT_EQ(webhook.deliver(effect).outcome, Outcome::Sent);
  const auto r = standIn.requests().at(0);
  EXPECT_EQ(r["path"], "/hooks/billing");
  EXPECT_EQ(r["headers"]["webhook-id"], "webhook:order:1");
  EXPECT_EQ(r["headers"]["x-tenant"], "org_1");
  EXPECT_EQ(r["headers"]["host"], "127.0.0.1:" + std::to_string(Url::parse(standIn.url())->port));
  EXPECT_EQ(r["signatureValid"], true) << r.dump();
  EXPECT_EQ(json::parse(r["body"].get<std::string>())["type"], "subscription.started");

  WebhookChannel strict(client(), {.https = {{"hooks.example.com", 443}}}, secret);
  const auto refused = strict.deliver(effect);
  EXPECT_EQ(refused.outcome, Outcome::Dead);
  EXPECT_NE(refused.error.find("WEBHOOK_ALLOW_HTTP_HOSTS"), std::string::npos) << refused.error;
  EXPECT_EQ(standIn.requests().size(), 1u) << "nothing was sent to a disallowed host";

  // Headers from the payload cannot split the request or replace effectd's own.
  for (const auto& headers : {json{{"X-Evil", "a\r\nX-Injected: 1"}}, json{{"Host", "other"}},
                              json{{"webhook-signature", "v1,forged"}}}) {
    auto bad = effect;
    bad.payload =
        json{{"url", standIn.url() + "/hooks/billing"}, {"body", "{}"}, {"headers", headers}}
            .dump();
    const auto refusedHeader = webhook.deliver(bad);
    EXPECT_EQ(refusedHeader.outcome, Outcome::Dead) << headers.dump();
  }
  EXPECT_EQ(standIn.requests().size(), 1u);

  // A receiver's 401 is its own endpoint's answer, not our credentials:
  // final for this effect, and nothing pauses the others.
  standIn.plan(json::array({{{"status", 401}}}));
  const auto unauthorized = webhook.deliver(effect);
  EXPECT_EQ(unauthorized.outcome, Outcome::Dead) << unauthorized.error;
  EXPECT_NE(unauthorized.error.find("HTTP 401"), std::string::npos) << unauthorized.error;
  // Its origin, for the per-receiver limit.
  EXPECT_EQ(webhook.origin(effect),
            "http://127.0.0.1:" + std::to_string(Url::parse(standIn.url())->port));
}

// Host and port allowed, but the address is loopback and not allowed: the
// client refuses it at connect time, also when a provider's kept-alive
// connection to that very origin sits in the shared pool.
TEST(ProvidersE2eTest, AWebhookNeverConnectsToARefusedAddress) {
  ProviderStandIn standIn;
  const auto http = client();
  ResendChannel resend(http, *Url::parse(standIn.url()), "k", "f@x.example");
  ASSERT_EQ(resend.deliver(email("pooled")).outcome, Outcome::Sent);
  ASSERT_EQ(http->idleConnections(), 1u);

  auto targets = plainLoopback(standIn);
  targets.addresses.allowedNonPublic.clear();
  WebhookChannel webhook(http, targets, "");
  const auto refused = webhook.deliver(webhookTo(standIn.url() + "/hook"));
  EXPECT_EQ(refused.outcome, Outcome::Dead);
  EXPECT_NE(refused.error.find("127.0.0.1 (loopback)"), std::string::npos) << refused.error;
  EXPECT_NE(refused.error.find("WEBHOOK_ALLOW_PRIVATE_ADDRESSES"), std::string::npos)
      << refused.error;
  EXPECT_EQ(standIn.requests().size(), 1u) << "only Resend's email arrived";
  EXPECT_EQ(http->idleConnections(), 1u) << "Resend's connection stays for Resend";
  EXPECT_EQ(resend.deliver(email("pooled:2")).outcome, Outcome::Sent);
}

// A test CA, a certificate for localhost signed by it, one for another name,
// and a self-signed one from an unknown CA.
TEST(ProvidersE2eTest, TlsVerifiesTheChainAndTheHostName) {
  TestCertificates certs;
  const auto ca = certs.dir + "/ca.pem";
  {
    ProviderStandIn good({.certFile = certs.dir + "/good.pem", .keyFile = certs.dir + "/good.key"});
    ResendChannel resend(client(ca), *Url::parse(good.url("localhost")), "k", "f@x.example");
    const auto ok = resend.deliver(email("tls:ok"));
    EXPECT_EQ(ok.outcome, Outcome::Sent) << ok.error;
    EXPECT_EQ(good.requests().size(), 1u);
    // The same server, without the test CA: an unknown issuer is refused.
    ResendChannel untrusting(client(), *Url::parse(good.url("localhost")), "k", "f@x.example");
    const auto unknownCa = untrusting.deliver(email("tls:unknown-ca"));
    EXPECT_EQ(unknownCa.outcome, Outcome::Retry);
    EXPECT_NE(unknownCa.error.find("not sent"), std::string::npos) << unknownCa.error;
    EXPECT_EQ(good.requests().size(), 1u);
  }
  {
    ProviderStandIn wrong(
        {.certFile = certs.dir + "/wrong.pem", .keyFile = certs.dir + "/wrong.key"});
    ResendChannel resend(client(ca), *Url::parse(wrong.url("localhost")), "k", "f@x.example");
    const auto r = resend.deliver(email("tls:wrong-host"));
    EXPECT_EQ(r.outcome, Outcome::Retry);
    EXPECT_NE(r.error.find("tls handshake"), std::string::npos) << r.error;
    EXPECT_TRUE(wrong.requests().empty());
  }
  {
    ProviderStandIn rogue(
        {.certFile = certs.dir + "/rogue.pem", .keyFile = certs.dir + "/rogue.key"});
    ResendChannel resend(client(ca), *Url::parse(rogue.url("localhost")), "k", "f@x.example");
    EXPECT_EQ(resend.deliver(email("tls:rogue")).outcome, Outcome::Retry);
    EXPECT_TRUE(rogue.requests().empty());
  }
}

SmtpSettings smtp(const std::string& url, const std::string& caFile) {
  auto s = SmtpSettings::parse(url).value();
  s.caFile = caFile;
  s.timeout = std::chrono::seconds(2);
  return s;
}

TEST(SmtpE2eTest, StartTlsAuthAndADeterministicMessageId) {
  TestCertificates certs;
  SmtpServer server(certs.dir);
  const auto base = "smtp://mailer:s3cret@localhost:" + std::to_string(server.port());
  SmtpEmailChannel channel(smtp(base, certs.dir + "/ca.pem"), "Billing <billing@x.example>");
  auto effect = email("email:smtp:1");
  effect.payload = R"({"to":["a@example.com","b@example.com"],"subject":"Grüße",
                       "text":"line one\n.starts with a dot\n.","html":"<p>Hi</p>"})";
  const auto result = channel.deliver(effect);
  ASSERT_EQ(result.outcome, Outcome::Sent) << result.error;
  EXPECT_EQ(result.providerMessageId, messageIdFor("email:smtp:1"));
  const auto messages = server.messages();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0]["from"], "billing@x.example");
  EXPECT_EQ(messages[0]["to"], json::array({"a@example.com", "b@example.com"}));
  EXPECT_EQ(messages[0]["tls"], true);
  const auto content = messages[0]["content"].get<std::string>();
  EXPECT_NE(content.find("Message-ID: " + messageIdFor("email:smtp:1")), std::string::npos);
  EXPECT_NE(content.find("Subject: =?UTF-8?B?R3LDvMOfZQ==?="), std::string::npos) << content;
  EXPECT_NE(content.find("\r\n.starts with a dot\r\n.\r\n"), std::string::npos) << content;

  SmtpEmailChannel wrongPassword(
      smtp("smtp://mailer:nope@localhost:" + std::to_string(server.port()), certs.dir + "/ca.pem"),
      "billing@x.example");
  const auto refused = wrongPassword.deliver(email("email:smtp:2"));
  EXPECT_EQ(refused.outcome, Outcome::Refused) << refused.error;
  EXPECT_NE(refused.error.find("535"), std::string::npos) << "ERR=" << refused.error;
  EXPECT_EQ(refused.error.find("nope"), std::string::npos) << "a password reached an error";
  // Without the test CA, the server's certificate is refused before AUTH.
  SmtpEmailChannel untrusting(smtp(base, ""), "billing@x.example");
  const auto untrusted = untrusting.deliver(email("email:smtp:3"));
  EXPECT_EQ(untrusted.outcome, Outcome::Retry);
  EXPECT_NE(untrusted.error.find("tls handshake"), std::string::npos) << untrusted.error;
  EXPECT_EQ(server.messages().size(), 1u);
}

TEST(SmtpE2eTest, ImplicitTls) {
  TestCertificates certs;
  SmtpServer server(certs.dir, {"--implicit-tls"});
  SmtpEmailChannel channel(smtp("smtps://mailer:s3cret@localhost:" + std::to_string(server.port()),
                                certs.dir + "/ca.pem"),
                           "billing@x.example");
  const auto result = channel.deliver(email("email:smtps:1"));
  EXPECT_EQ(result.outcome, Outcome::Sent) << result.error;
  EXPECT_EQ(server.messages().size(), 1u);
}

TEST(SmtpE2eTest, NoAnswerAfterTheMessageIsUnknownAndARefusalIsNotSent) {
  TestCertificates certs;
  SmtpServer server(certs.dir, {"--hang-after-data"});
  SmtpEmailChannel channel(smtp("smtp://mailer:s3cret@localhost:" + std::to_string(server.port()),
                                certs.dir + "/ca.pem"),
                           "billing@x.example");
  const auto result = channel.deliver(email("email:smtp:hang"));
  EXPECT_EQ(result.outcome, Outcome::Unknown) << result.error;
  EXPECT_EQ(server.messages().size(), 1u) << "the server did receive it";

  SmtpEmailChannel nowhere(smtp("smtp://mailer:s3cret@127.0.0.1:1", ""), "billing@x.example");
  const auto refused = nowhere.deliver(email("email:smtp:refused"));
  EXPECT_EQ(refused.outcome, Outcome::Retry);
  EXPECT_NE(refused.error.find("not sent"), std::string::npos);
}

}  // namespace
}  // namespace effectd::queue
