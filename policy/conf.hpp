// conf: the relaymilter.conf file (Boost.Program_options config-file syntax: "key = value",
// '#' comments, repeatable keys, flat names) read into plain values, with every error reported
// as FILE:LINE: message. Unknown keys are errors. It does not build the policy (see policy.hpp).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "large_allocator.hpp"
#include "net.hpp"

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

struct Conf {
    std::string path;
    std::vector<DomainRule> local_domains;
    bool allow_authenticated = true;
    NetRules allow_nets;
    NetRules internal_addresses;
    NetRules deny_nets;
    Reply reject_reply{"550", "5.7.1", "Relaying prohibited"};
    Mode mode = Mode::enforce;
    bool allow_open_relay = false;
    // The daemon's keys.
    std::optional<std::string> socket;
    std::optional<std::string> user;
    std::optional<std::string> pidfile;
    std::optional<std::string> log;
    std::optional<int> listen_backlog;  // the milter socket's listen queue; unset: the kernel's most
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

// Why `spec` is not a milter socket in libmilter's form, or nullopt when it is one.
[[nodiscard]] std::optional<std::string> socket_spec_problem(std::string_view spec);
// Why `text` is not a reject reply (5xx, optional 5.x.y, text), or the reply.
[[nodiscard]] std::optional<std::string> parse_reply(std::string_view text, Reply& reply);

}  // namespace relaymilter
