// conf: the relaymilter.conf file (Boost.Program_options config-file syntax: "key = value",
// '#' comments, repeatable keys, flat names) read into plain values, with every error reported
// as FILE:LINE: message. Unknown keys are errors. It does not build the policy (see policy.hpp).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "large_allocator.hpp"
#include "limits.hpp"
#include "metrics_address.hpp"
#include "net.hpp"
#include "socket_spec.hpp"
#include "store_address.hpp"

namespace relaymilter {

enum class Mode { enforce, dry_run };

// An SMTP reply: "550 5.7.1 Relaying prohibited" is code 550, enhanced 5.7.1, text.
struct Reply {
    std::string code;
    std::string enhanced;  // may be empty
    std::string text;
    [[nodiscard]] std::string to_string() const;
};

struct NetRule {
    Net net;
    int line;
};

// A conf may hold a million of these.
using NetRules = std::vector<NetRule, LargeAllocator<NetRule>>;

struct DomainRule {
    std::string domain;  // canonical; a leading '.' for "every subdomain"
    int line;
};

// The keys the decision reads besides the rule lists; the Policy keeps a copy of the whole.
struct PolicyOptions {
    bool allow_authenticated = true;
    Reply reject_reply{"550", "5.7.1", "Relaying prohibited"};
    Mode mode = Mode::enforce;
    bool allow_open_relay = false;
    // Authenticated relay under control: the login limits at every level, how long a lock lasts,
    // the replies, and the listener ports on which authentication allows relay (empty: any).
    LimitTable limits;
    uint32_t lock_seconds = 3600;
    Reply limit_reply{"451", "4.7.1", "Relay limit reached for this login; try again later"};
    Reply lock_reply{"550", "5.7.1", "This login may not relay now; contact your administrator"};
    std::vector<uint16_t> authenticated_ports;
};

// The daemon's keys; its command line may override some. They take effect at start.
struct DaemonOptions {
    std::optional<SocketSpec> socket;
    std::optional<std::string> user;
    std::optional<std::string> pidfile;
    std::optional<std::string> log;     // "syslog" or "stderr"
    std::optional<int> listen_backlog;  // the milter socket's listen queue; unset: the kernel's most
    std::optional<MetricsAddress> metrics;  // unset: no metrics endpoint
    StoreAddress limits_store;              // where the login limits are counted (memory by default)
    Microseconds limits_store_timeout = kDefaultStoreTimeout;
    StoreFailure limits_store_failure = StoreFailure::local;
    friend bool operator==(const DaemonOptions&, const DaemonOptions&) = default;
};

// The daemon's values, checked the same wherever they come from (the conf or the command line):
// why TEXT is not one, phrased for "KEY: why" and "--flag why".
[[nodiscard]] std::optional<std::string> user_problem(std::string_view text);
[[nodiscard]] std::optional<std::string> pidfile_problem(std::string_view text);
[[nodiscard]] std::optional<std::string> log_problem(std::string_view text);

struct Conf {
    std::string path;
    std::vector<DomainRule> local_domains;
    NetRules allow_nets;
    NetRules internal_addresses;
    NetRules deny_nets;
    PolicyOptions policy;
    DaemonOptions daemon;
};

struct ConfError {
    std::string file;
    int line;  // 0 when the error is about the whole file
    std::string message;
    [[nodiscard]] std::string to_string() const;
};

struct ConfResult {
    std::optional<Conf> conf;  // set only when there are no errors
    std::vector<ConfError> errors;
};

// Reads and checks the file at `path`.
[[nodiscard]] ConfResult read_conf(const std::string& path);
// Checks `text` as if it were the file `name`.
[[nodiscard]] ConfResult parse_conf(std::string_view text, const std::string& name);

// Why `text` is not a reply (5xx, or 4xx too with `temporary_too`; an optional enhanced code of
// the same class; text), or nullopt with the reply stored.
[[nodiscard]] std::optional<std::string> parse_reply(std::string_view text, Reply& reply, bool temporary_too = false);

}  // namespace relaymilter
