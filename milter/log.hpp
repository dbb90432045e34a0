// log: where the daemon's lines go: syslog (facility mail, ident relaymilter, beside the MTA's
// own lines) or stderr for foreground use and tests. Thread-safe; one call writes one line.
#pragma once

#include <string_view>
#include <syslog.h>

namespace relaymilter {

enum class LogTarget { syslog, stderr_stream };

// Call again after fork(): the stderr prefix carries the pid.
void log_open(LogTarget target);
void log_line(int priority, std::string_view text);

// `text` with control bytes replaced by '?', fit for one key=value log field.
[[nodiscard]] std::string log_safe(std::string_view text);

}  // namespace relaymilter
