// daemon: relaymilter as a service: the milter socket, dropping root, detaching, the pid file,
// signals (SIGHUP reloads the conf, SIGTERM/SIGINT stop) and libmilter's main loop.
// It returns a sysexits.h code; it makes no relay decision itself.
#pragma once

#include <optional>
#include <string>

#include "callbacks.hpp"
#include "log.hpp"
#include "policy.hpp"

namespace relaymilter {

struct DaemonSettings {
    std::string conf_path;
    std::string socket;
    std::optional<std::string> user;
    std::optional<std::string> pidfile;
    bool foreground = false;
    LogTarget log = LogTarget::syslog;
    Protocol protocol = Protocol::lean;
    std::optional<int> listen_backlog;  // unset: net.core.somaxconn
};

// Runs until SIGTERM/SIGINT; `loaded` is the checked conf and its policy.
[[nodiscard]] int run_daemon(const DaemonSettings& settings, LoadedPolicy loaded);

}  // namespace relaymilter
