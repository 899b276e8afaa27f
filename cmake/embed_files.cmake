# Writes a C++ source holding every file of DIR matching GLOB as (name without
# extension, text), sorted by name, behind the function effectd::embedded::FUNCTION.
# The build runs it with -DOUTPUT=<file> -DDIR=<folder> -DGLOB=<*.ext> -DFUNCTION=<name>,
# so that a deployed effectd needs no files beside it (migrations, templates).
set(body "// Generated from ${DIR} by cmake/embed_files.cmake. Do not edit.\n")
string(APPEND body "#include <string_view>\n#include <utility>\n#include <vector>\n\n")
string(APPEND body "namespace effectd::embedded {\n\n")
string(APPEND body "const std::vector<std::pair<std::string_view, std::string_view>>& ${FUNCTION}() {\n")
string(APPEND body "  static const std::vector<std::pair<std::string_view, std::string_view>> files{\n")
file(GLOB INPUTS ${DIR}/${GLOB})
list(SORT INPUTS)
foreach(path IN LISTS INPUTS)
  get_filename_component(name ${path} NAME_WLE)
  file(READ ${path} text)
  string(APPEND body "      {\"${name}\", R\"effectd_embed(${text})effectd_embed\"},\n")
endforeach()
string(APPEND body "  };\n  return files;\n}\n\n}  // namespace effectd::embedded\n")
file(WRITE ${OUTPUT}.tmp "${body}")
file(COPY_FILE ${OUTPUT}.tmp ${OUTPUT} ONLY_IF_DIFFERENT)
