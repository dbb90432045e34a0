// settings: the daemon's settings, made once from the conf's daemon keys with the command line
// over them, each value checked by the same function wherever it came from; and what
// --check-config can tell of them beyond the conf (the user, the socket's directory). It starts
// nothing; the daemon runs with what this returns.
#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "callbacks.hpp"
#include "conf.hpp"
#include "log.hpp"

namespace relaymilter {

// The command line's daemon flags, as given (unset: not given).
struct CommandLine {
    std::string conf_path;
    std::optional<std::string> socket, user, pidfile, log, protocol;
    bool foreground = false;
};

struct DaemonSettings {
    std::string conf_path;
    SocketSpec socket;
    std::optional<std::string> user = std::nullopt;
    std::optional<std::string> pidfile = std::nullopt;
    bool foreground = false;
    LogTarget log = LogTarget::syslog;
    Protocol protocol = Protocol::lean;
    DaemonOptions conf;  // the conf's daemon keys as read: the rest of what the daemon needs
};

// The settings, or the reason a flag is wrong ("--socket 'tcp:1': unknown socket type 'tcp' ...").
[[nodiscard]] std::variant<DaemonSettings, std::string> daemon_settings(const Conf& conf, const CommandLine& flags,
                                                                       const SocketSpec& default_socket);

// What a conf check finds about the machine: errors the daemon would stop on, warnings it would not.
struct SettingsCheck {
    std::vector<std::string> errors;
    std::vector<std::string> warnings;
};
[[nodiscard]] SettingsCheck check_settings(const DaemonSettings& settings, const Conf& conf);

}  // namespace relaymilter
