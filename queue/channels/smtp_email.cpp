#include "queue/channels/smtp_email.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <charconv>

#include "base/base64.hpp"
#include "queue/channels/smtp_reply.hpp"
#include "queue/email_message.hpp"

namespace effectd::queue {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

std::string urlDecode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      unsigned v = 0;
      std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
      out += static_cast<char>(v);
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// More than any server's EHLO list needs; RFC 5321 caps a reply line at 512.
constexpr std::size_t kMaxReplyBytes = std::size_t{64} * 1024;

// Lines starting with "." get another (RFC 5321 4.5.2); the message ends
// with CRLF.CRLF.
std::string dotStuffed(const std::string& mime) {
  std::string out;
  out.reserve(mime.size() + 16);
  bool lineStart = true;
  for (char c : mime) {
    if (lineStart && c == '.') out += '.';
    out += c;
    lineStart = c == '\n';
  }
  if (out.size() < 2 || out.compare(out.size() - 2, 2, "\r\n") != 0) out += "\r\n";
  return out + ".\r\n";
}

struct Reply {
  int code = 0;
  std::string text;  // all lines
};

// Thrown inside one delivery; `sent` says whether the final dot had left.
struct SmtpFailure {
  std::string message;
  int code = 0;  // 0: network or TLS, no reply
  bool sent = false;
};

class Session {
 public:
  Session(asio::io_context& ioc, asio::ssl::context& tls, const SmtpSettings& s,
          DeliveryAbort* abort)
      : ioc_(ioc), settings_(s), abort_(abort), socket_(ioc), stream_(socket_, tls) {}

  void connect() {
    tcp::resolver resolver(ioc_);
    tcp::resolver::results_type endpoints;
    auto ec = run([&](auto done) {
      resolver.async_resolve(settings_.host, std::to_string(settings_.port),
                             [&, done](boost::system::error_code e, auto results) {
                               endpoints = results;
                               done(e);
                             });
    });
    if (ec) throw SmtpFailure{"resolve: " + ec.message()};
    ec = run([&](auto done) {
      asio::async_connect(socket_, endpoints,
                          [done](boost::system::error_code e, auto&&) { done(e); });
    });
    if (ec) throw SmtpFailure{"connect: " + ec.message()};
    if (settings_.implicitTls) handshake();
    expect(read(), 220, "greeting");
  }

  void handshake() {
    // Anything the server sent after "220 Ready" arrived in plain text: it must
    // not be read later as if it had come over TLS (STARTTLS injection).
    if (buffer_.size() != 0) throw SmtpFailure{"STARTTLS: unexpected data before the handshake"};
    SSL_set_tlsext_host_name(stream_.native_handle(), settings_.host.c_str());
    stream_.set_verify_mode(asio::ssl::verify_peer);
    stream_.set_verify_callback(asio::ssl::host_name_verification(settings_.host));
    const auto ec = run([&](auto done) {
      stream_.async_handshake(asio::ssl::stream_base::client,
                              [done](boost::system::error_code e) { done(e); });
    });
    if (ec) throw SmtpFailure{"tls handshake: " + ec.message()};
    tls_ = true;
  }

  Reply command(const std::string& line, bool secret = false) {
    write(line + "\r\n", secret ? "AUTH" : line);
    return read();
  }

  void write(const std::string& data, const std::string& what) {
    const auto ec = run([&](auto done) {
      auto handler = [done](boost::system::error_code e, std::size_t) { done(e); };
      if (tls_) {
        asio::async_write(stream_, asio::buffer(data), handler);
      } else {
        asio::async_write(socket_, asio::buffer(data), handler);
      }
    });
    if (ec) throw SmtpFailure{"write " + what.substr(0, 20) + ": " + ec.message()};
  }

  Reply read() {
    Reply reply;
    for (;;) {
      std::size_t n = 0;
      const auto ec = run([&](auto done) {
        auto handler = [&n, done](boost::system::error_code e, std::size_t size) {
          n = size;
          done(e);
        };
        if (tls_) {
          asio::async_read_until(stream_, buffer_, "\r\n", handler);
        } else {
          asio::async_read_until(socket_, buffer_, "\r\n", handler);
        }
      });
      if (ec) throw SmtpFailure{"read: " + ec.message()};
      std::string line(asio::buffers_begin(buffer_.data()),
                       asio::buffers_begin(buffer_.data()) + static_cast<std::ptrdiff_t>(n));
      buffer_.consume(n);
      const auto parsed = parseSmtpReplyLine(line);
      if (!parsed) throw SmtpFailure{"malformed reply"};
      reply.code = parsed->code;
      reply.text.append(parsed->text).append("\n");
      // Each line is bounded by the buffer; an endless multi-line reply is
      // bounded here, or it would grow until the provider timeout, forever.
      if (reply.text.size() > kMaxReplyBytes) throw SmtpFailure{"reply too long"};
      if (!parsed->more) return reply;
    }
  }

  static void expect(const Reply& r, int code, const std::string& step, bool sent = false) {
    if (r.code != code) {
      throw SmtpFailure{step + ": " + std::to_string(r.code) + " " + r.text.substr(0, 200), r.code,
                        sent};
    }
  }

 private:
  // Runs one asynchronous operation to completion or to the timeout, which
  // closes the socket: no step of a conversation can hang a delivery thread.
  template <typename Start>
  boost::system::error_code run(Start start) {
    bool finished = false;
    boost::system::error_code result;
    start([&](boost::system::error_code ec) {
      finished = true;
      result = ec;
    });
    bool aborted = false;
    if (abort_) {
      aborted = !abort_->run(ioc_, settings_.timeout);
    } else {
      ioc_.restart();
      ioc_.run_for(settings_.timeout);
    }
    if (!finished) {
      boost::system::error_code ignored;
      socket_.close(ignored);
      ioc_.restart();
      ioc_.run();
      return aborted ? asio::error::operation_aborted : asio::error::timed_out;
    }
    return result;
  }

  asio::io_context& ioc_;
  const SmtpSettings& settings_;
  DeliveryAbort* abort_;
  tcp::socket socket_;
  asio::ssl::stream<tcp::socket&> stream_;
  asio::streambuf buffer_{std::size_t{64} *
                          1024};  // a reply longer than this is an error, not memory
  bool tls_ = false;
};

}  // namespace

std::optional<SmtpSettings> SmtpSettings::parse(const std::string& url) {
  SmtpSettings s;
  std::string rest;
  if (url.rfind("smtps://", 0) == 0) {
    s.implicitTls = true;
    s.startTls = false;
    s.port = 465;
    rest = url.substr(8);
  } else if (url.rfind("smtp://", 0) == 0) {
    rest = url.substr(7);
  } else {
    return std::nullopt;
  }
  if (const auto q = rest.find('?'); q != std::string::npos) {
    const auto query = rest.substr(q + 1);
    rest.resize(q);
    if (query.find("starttls=off") != std::string::npos) s.startTls = false;
  }
  if (!rest.empty() && rest.back() == '/') rest.pop_back();
  if (const auto at = rest.rfind('@'); at != std::string::npos) {
    const auto credentials = rest.substr(0, at);
    rest = rest.substr(at + 1);
    const auto colon = credentials.find(':');
    s.user = urlDecode(credentials.substr(0, colon));
    if (colon != std::string::npos) s.password = urlDecode(credentials.substr(colon + 1));
  }
  const auto colon = rest.rfind(':');
  if (colon != std::string::npos) {
    unsigned port = 0;
    auto [end, ec] = std::from_chars(rest.data() + colon + 1, rest.data() + rest.size(), port);
    if (ec != std::errc{} || end != rest.data() + rest.size() || port == 0 || port > 65535) {
      return std::nullopt;
    }
    s.port = static_cast<std::uint16_t>(port);
    rest.resize(colon);
  }
  if (rest.empty()) return std::nullopt;
  s.host = rest;
  return s;
}

struct SmtpEmailChannel::Impl {
  Impl(SmtpSettings s, std::string from, std::shared_ptr<DeliveryAbort> a)
      : settings(std::move(s)),
        defaultFrom(std::move(from)),
        abort(std::move(a)),
        tls(asio::ssl::context::tls_client) {
    tls.set_default_verify_paths();
    if (!settings.caFile.empty()) tls.load_verify_file(settings.caFile);
  }
  SmtpSettings settings;
  std::string defaultFrom;
  std::shared_ptr<DeliveryAbort> abort;
  asio::ssl::context tls;
};

SmtpEmailChannel::SmtpEmailChannel(SmtpSettings settings, std::string defaultFrom,
                                   std::shared_ptr<DeliveryAbort> abort)
    : impl_(std::make_unique<Impl>(std::move(settings), std::move(defaultFrom), std::move(abort))) {
}
SmtpEmailChannel::~SmtpEmailChannel() = default;

DeliveryResult SmtpEmailChannel::deliver(const ClaimedEffect& effect) {
  auto composed = composeEmail(effect.payload, impl_->defaultFrom);
  if (!composed.ok()) return DeliveryResult::dead(composed.error);
  const auto& m = composed.message;
  const auto messageId = messageIdFor(effect.key);
  asio::io_context ioc;
  Session session(ioc, impl_->tls, impl_->settings, impl_->abort.get());
  try {
    session.connect();
    auto ehlo = session.command("EHLO effectd");
    Session::expect(ehlo, 250, "EHLO");
    if (impl_->settings.startTls) {
      if (ehlo.text.find("STARTTLS") == std::string::npos) {
        throw SmtpFailure{"server does not offer STARTTLS (set ?starttls=off to allow plain)"};
      }
      Session::expect(session.command("STARTTLS"), 220, "STARTTLS");
      session.handshake();
      ehlo = session.command("EHLO effectd");
      Session::expect(ehlo, 250, "EHLO");
    }
    if (!impl_->settings.user.empty()) {
      const auto& s = impl_->settings;
      if (ehlo.text.find("PLAIN") != std::string::npos) {
        const auto token = base64Encode(std::string(1, '\0') + s.user + '\0' + s.password);
        Session::expect(session.command("AUTH PLAIN " + token, true), 235, "AUTH PLAIN");
      } else {
        Session::expect(session.command("AUTH LOGIN"), 334, "AUTH LOGIN");
        Session::expect(session.command(base64Encode(s.user), true), 334, "AUTH LOGIN user");
        Session::expect(session.command(base64Encode(s.password), true), 235, "AUTH LOGIN");
      }
    }
    Session::expect(session.command("MAIL FROM:<" + std::string(envelopeAddress(m.from)) + ">"),
                    250, "MAIL FROM");
    for (const auto& to : m.to) {
      const auto r = session.command("RCPT TO:<" + std::string(envelopeAddress(to)) + ">");
      if (r.code != 250 && r.code != 251) Session::expect(r, 250, "RCPT TO " + to);
    }
    Session::expect(session.command("DATA"), 354, "DATA");
    const auto data = dotStuffed(toMime(m, messageId));
    try {
      session.write(data, "message");
    } catch (SmtpFailure& f) {
      f.sent = true;  // part of it may have arrived and been accepted
      throw;
    }
    Reply accepted;
    try {
      accepted = session.read();
    } catch (SmtpFailure& f) {
      f.sent = true;
      throw;
    }
    Session::expect(accepted, 250, "end of DATA", true);
    try {
      session.command("QUIT");
    } catch (const SmtpFailure&) {
      // Accepted already; a rude goodbye changes nothing.
    }
    return DeliveryResult::sent(messageId);
  } catch (const SmtpFailure& f) {
    const auto message = "smtp: " + f.message;
    // 530: authentication required; 535: credentials invalid (RFC 4954).
    // Nothing was sent, and nothing else will be until they are fixed.
    if (!f.sent && (f.code == 530 || f.code == 535)) {
      return DeliveryResult::refused(message + " (credentials refused)");
    }
    if (f.code >= 500) return DeliveryResult::dead(message);
    if (f.code >= 400) return DeliveryResult::retry(message);
    if (f.sent) return DeliveryResult::unknown(message + "; the server may have accepted it");
    return DeliveryResult::retry(message + " (not sent)");
  }
}

}  // namespace effectd::queue
