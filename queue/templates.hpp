// Email templates (mustache, HTML-escaped): templates/<name>.subject, .text
// and .html, compiled into the binary.
#pragma once

#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>

namespace effectd::queue {

const std::map<std::string, std::string>& embeddedTemplates();

struct RenderedEmail {
  std::string subject;
  std::string text;
  std::string html;
};

struct RenderResult {
  std::optional<RenderedEmail> email;
  std::string error;  // e.g. no template named X
};

RenderResult renderTemplate(const std::string& name, const nlohmann::json& data);

}  // namespace effectd::queue
