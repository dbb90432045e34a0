// log: syslog(3) or one write(2) per line on stderr, so concurrent lines never interleave.
#include "log.hpp"

#include <unistd.h>

#include <string>

namespace relaymilter {

namespace {
LogTarget g_target = LogTarget::stderr_stream;
pid_t g_pid = 0;  // for the stderr prefix, without a getpid() call per line
}

void log_open(LogTarget target) {
    g_target = target;
    g_pid = getpid();
    if (target == LogTarget::syslog) openlog("relaymilter", LOG_PID | LOG_NDELAY, LOG_MAIL);
}

void log_line(int priority, std::string_view text) {
    if (g_target == LogTarget::syslog) {
        syslog(priority, "%.*s", static_cast<int>(text.size()), text.data());
        return;
    }
    std::string line = "relaymilter[" + std::to_string(g_pid) + "]: ";
    if (priority <= LOG_ERR) {
        line += "error: ";
    } else if (priority == LOG_WARNING) {
        line += "warning: ";
    }
    line.append(text);
    line.push_back('\n');
    const char* data = line.data();
    size_t left = line.size();
    while (left > 0) {
        ssize_t n = ::write(STDERR_FILENO, data, left);
        if (n <= 0) return;
        data += n;
        left -= static_cast<size_t>(n);
    }
}

std::string log_safe(std::string_view text) {
    std::string out(text);
    for (char& c : out) {
        auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f) c = '?';
    }
    return out;
}

}  // namespace relaymilter
