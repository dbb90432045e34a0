// daemon: relaymilter as a service: the milter socket, dropping root, detaching, the pid file,
// signals (SIGHUP reloads the conf, SIGTERM/SIGINT stop) and libmilter's main loop.
// It returns a sysexits.h code; it makes no relay decision itself.
#pragma once

#include <optional>
#include <string>

#include "policy.hpp"
#include "settings.hpp"

namespace relaymilter {

// Runs until SIGTERM/SIGINT; `loaded` is the checked conf and its policy.
[[nodiscard]] int run_daemon(const DaemonSettings& settings, LoadedPolicy loaded);

}  // namespace relaymilter
