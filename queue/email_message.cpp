#include "queue/email_message.hpp"

#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string_view>

#include "base/hex.hpp"
#include "queue/templates.hpp"

namespace effectd::queue {
namespace {

using nlohmann::json;

// Header values must not carry line breaks (header injection).
std::string headerSafe(std::string value) {
  for (auto& c : value) {
    if (c == '\r' || c == '\n') c = ' ';
  }
  return value;
}

// RFC 2047 encoded-word when the subject is not plain ASCII.
std::string encodeSubject(const std::string& subject) {
  bool ascii = true;
  for (unsigned char c : subject) ascii = ascii && c < 0x80;
  if (ascii) return headerSafe(subject);
  static constexpr char table[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string b64;
  std::size_t i = 0;
  const auto& s = subject;
  for (; i + 2 < s.size(); i += 3) {
    const unsigned n = (static_cast<unsigned char>(s[i]) << 16) |
                       (static_cast<unsigned char>(s[i + 1]) << 8) |
                       static_cast<unsigned char>(s[i + 2]);
    b64 += {table[n >> 18], table[(n >> 12) & 63], table[(n >> 6) & 63], table[n & 63]};
  }
  if (i + 1 == s.size()) {
    const unsigned n = static_cast<unsigned char>(s[i]) << 16;
    b64 += {table[n >> 18], table[(n >> 12) & 63], '=', '='};
  } else if (i + 2 == s.size()) {
    const unsigned n =
        (static_cast<unsigned char>(s[i]) << 16) | (static_cast<unsigned char>(s[i + 1]) << 8);
    b64 += {table[n >> 18], table[(n >> 12) & 63], table[(n >> 6) & 63], '='};
  }
  return "=?UTF-8?B?" + b64 + "?=";
}

// Every line break becomes CRLF, including a bare CR: SMTP servers disagree
// on what a lone CR or LF ends, and a message that ends differently for two
// of them can smuggle a second message past the first ("\n.\n").
std::string crlf(const std::string& body) {
  std::string out;
  out.reserve(body.size() + body.size() / 32);
  for (std::size_t i = 0; i < body.size(); ++i) {
    const char c = body[i];
    if (c == '\r') {
      out += "\r\n";
      if (i + 1 < body.size() && body[i + 1] == '\n') ++i;
    } else if (c == '\n') {
      out += "\r\n";
    } else {
      out += c;
    }
  }
  return out;
}

// A header field or SMTP command built from this text would end where a CR,
// LF or NUL is, and the rest would become more headers or commands.
bool breaksALine(std::string_view text) {
  return text.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

// Why `mailbox` cannot head a message or an SMTP envelope, or "".
std::string mailboxProblem(std::string_view field, std::string_view mailbox) {
  const std::string name(field);
  if (breaksALine(mailbox)) return "'" + name + "' contains a line break or NUL";
  const auto address = envelopeAddress(mailbox);
  if (address.empty() || address.find('@') == std::string_view::npos) {
    return "'" + name + "' is not an email address";
  }
  for (unsigned char c : address) {
    if (c <= ' ' || c == '<' || c == '>' || c == ',' || c == 0x7f) {
      return "'" + name + "' is not an email address";
    }
  }
  return {};
}

// A string field of the payload; absent gives `fallback`, any other type an
// error (not an exception: the effect goes dead with a reason).
std::optional<std::string> stringField(const json& p, const char* name,
                                       const std::string& fallback) {
  const auto it = p.find(name);
  if (it == p.end() || it->is_null()) return fallback;
  if (!it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

}  // namespace

std::string_view envelopeAddress(std::string_view mailbox) {
  const auto lt = mailbox.find('<');
  const auto gt = mailbox.find('>', lt == std::string_view::npos ? 0 : lt);
  if (lt != std::string_view::npos && gt != std::string_view::npos) {
    return mailbox.substr(lt + 1, gt - lt - 1);
  }
  return mailbox;
}

ComposeResult composeEmail(const std::string& payloadJson, const std::string& defaultFrom) {
  ComposeResult out;
  const auto p = json::parse(payloadJson, nullptr, false);
  if (!p.is_object()) return {{}, "email payload is not a JSON object"};
  auto& m = out.message;
  if (const auto to = p.find("to"); to != p.end() && to->is_string()) {
    m.to.push_back(to->get<std::string>());
  } else if (to != p.end() && to->is_array()) {
    for (const auto& r : *to) {
      if (r.is_string()) m.to.push_back(r.get<std::string>());
    }
  }
  if (m.to.empty()) return {{}, "email payload has no recipient in 'to'"};
  for (const auto& r : m.to) {
    if (!mailboxProblem("to", r).empty()) return {{}, "invalid recipient address in 'to'"};
  }
  const auto from = stringField(p, "from", defaultFrom);
  const auto replyTo = stringField(p, "replyTo", "");
  if (!from || !replyTo) return {{}, "email 'from' and 'replyTo' must be strings"};
  m.from = *from;
  m.replyTo = *replyTo;
  if (m.from.empty()) return {{}, "email has no 'from' and EMAIL_FROM is not set"};
  if (auto problem = mailboxProblem("from", m.from); !problem.empty()) return {{}, problem};
  if (!m.replyTo.empty()) {
    if (auto problem = mailboxProblem("replyTo", m.replyTo); !problem.empty()) {
      return {{}, problem};
    }
  }
  if (const auto t = p.find("template"); t != p.end() && t->is_string()) {
    auto rendered = renderTemplate(t->get<std::string>(), p.value("data", json::object()));
    if (!rendered.email) return {{}, rendered.error};
    m.subject = rendered.email->subject;
    m.text = rendered.email->text;
    m.html = rendered.email->html;
  }
  for (auto [name, field] :
       {std::pair{"subject", &m.subject}, std::pair{"text", &m.text}, std::pair{"html", &m.html}}) {
    const auto value = stringField(p, name, *field);
    if (!value) return {{}, std::string("email '") + name + "' must be a string"};
    *field = *value;
  }
  if (p.contains("subject") && breaksALine(m.subject)) {
    return {{}, "email 'subject' contains a line break or NUL"};
  }
  // Rendered or given, no part of a message may carry a NUL (SMTP servers
  // end or refuse lines at it); a rendered subject's line breaks are folded.
  for (const auto* part : {&m.subject, &m.text, &m.html}) {
    if (part->find('\0') != std::string::npos) return {{}, "email contains a NUL byte"};
  }
  if (m.subject.empty()) return {{}, "email has no subject (give 'subject' or 'template')"};
  if (m.text.empty() && m.html.empty()) return {{}, "email has no 'text' or 'html' body"};
  return out;
}

std::string messageIdFor(const std::string& key) {
  return "<" + sha256Hex(key).substr(0, 32) + "@effectd>";
}

std::string toMime(const EmailMessage& m, const std::string& messageId) {
  char date[64];
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  std::string to;
  for (const auto& r : m.to) to += (to.empty() ? "" : ", ") + headerSafe(r);
  std::string out = "From: " + headerSafe(m.from) + "\r\nTo: " + to + "\r\n";
  if (!m.replyTo.empty()) out += "Reply-To: " + headerSafe(m.replyTo) + "\r\n";
  out += "Subject: " + encodeSubject(m.subject) + "\r\nDate: " + date +
         "\r\nMessage-ID: " + messageId + "\r\nMIME-Version: 1.0\r\n";
  // Unguessable: a body that knew the boundary could start a MIME part of its own.
  std::random_device random;
  char unique[33];
  std::snprintf(unique, sizeof unique, "%08x%08x%08x%08x", random(), random(), random(), random());
  const auto boundary = std::string("effectd-") + unique;
  if (!m.text.empty() && !m.html.empty()) {
    out += "Content-Type: multipart/alternative; boundary=\"" + boundary + "\"\r\n\r\n";
    out += "--" + boundary +
           "\r\nContent-Type: text/plain; charset=utf-8\r\n"
           "Content-Transfer-Encoding: 8bit\r\n\r\n" +
           crlf(m.text) + "\r\n";
    out += "--" + boundary +
           "\r\nContent-Type: text/html; charset=utf-8\r\n"
           "Content-Transfer-Encoding: 8bit\r\n\r\n" +
           crlf(m.html) + "\r\n";
    out += "--" + boundary + "--\r\n";
  } else {
    out += std::string("Content-Type: text/") + (m.html.empty() ? "plain" : "html") +
           "; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" +
           crlf(m.html.empty() ? m.text : m.html);
  }
  return out;
}

}  // namespace effectd::queue
