// policy: the relay decision, Exchange "Routing Restrictions" style, per recipient:
//   1. local-domain: a local domain (or no domain) and no routing -> accept
//   2. deny-net: the client is in a deny-net -> reject
//   3. allow-net / internal-address: the network vouches for the client -> accept, not counted
//   4. authenticated (on an authenticated-port, when any is set): a locked login -> login-locked;
//      over a recipient or message limit -> login-limit; else accept, counted in the LimitStore
//   5. default -> reject with reject-reply
// The envelope sender plays no part: a null sender gets no exemption.
// Plain values in, a decision out: no libmilter, no logging, no clock (time comes in with the
// counting). Immutable once built, so any number of sessions may share one without a lock.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "conf.hpp"
#include "ip_address.hpp"
#include "limit_store.hpp"
#include "local_domains.hpp"
#include "net_table.hpp"
#include "recipient.hpp"

namespace relaymilter {

enum class Verdict { accept, reject, tempfail };
enum class Rule {
    local_domain, deny_net, authenticated, allow_net, internal_address, default_rule,
    login_limit,   // an authenticated relay over the login's recipient or message limit
    login_locked,  // an authenticated relay of a locked login
    limits_store   // an authenticated relay while the limits store cannot be reached (tempfail mode)
};
inline constexpr size_t kRuleCount = static_cast<size_t>(Rule::limits_store) + 1;
// What a decision does in the mode in force: dry-run turns a refusal into a logged pass.
enum class Action { accept, refuse, would_refuse, tempfail };

[[nodiscard]] std::string_view rule_name(Rule rule);
[[nodiscard]] std::string_view verdict_name(Verdict verdict);

// What is known of the SMTP client when a recipient arrives.
struct Client {
    std::optional<IpAddress> address;   // unknown when the MTA did not say
    std::optional<IpAddress> listener;  // the server address it connected to, when known
    std::string_view login;             // SMTP AUTH login; empty when not authenticated
    std::optional<uint16_t> port = std::nullopt;  // the listener's port, when the MTA said
};

// What the milter adds to a decision so that authenticated relays are counted: the store, the
// time, and whether no relayed recipient of this message was counted yet. Without it (offline)
// an authenticated relay is judged without its limits.
struct Counting {
    LimitStore& store;
    Microseconds now;
    bool new_message;
};

// For the limit rules: which limit, and for a lock made now, what made it.
struct LimitDetail {
    enum class Kind : uint8_t { none, recipients, messages, clients } kind = Kind::none;
    Rate rate;                     // the limit that was reached
    uint32_t clients = 0;          // a lock made now: the distinct clients seen, this one included
    Microseconds locked_until = 0;
    bool locked_now = false;
    bool counted = false;          // an accepted relay that was counted against the login
};

inline constexpr uint32_t kNoEntry = UINT32_MAX;

struct Decision {
    Decision(Verdict v, Rule r, uint32_t e = UINT32_MAX) : verdict(v), rule(r), entry(e) {}
    Verdict verdict;
    Rule rule;
    // Which entry of the conf's list for `rule` decided (its position in Conf::local_domains,
    // deny_nets, allow_nets or internal_addresses), or kNoEntry for rules with no list.
    uint32_t entry = kNoEntry;
    LimitDetail limit;
    // The same decision: the same verdict by the same rule (the entry tells which line gave it).
    friend bool operator==(const Decision& a, const Decision& b) { return a.verdict == b.verdict && a.rule == b.rule; }
};

// Tags of the NET rule kinds in the policy's NetTables.
inline constexpr RuleTags kDenyNet = 1;
inline constexpr RuleTags kAllowNet = 2;
inline constexpr RuleTags kInternalAddress = 4;

class Policy {
public:
    struct Counts {
        size_t local_domains = 0;
        size_t allow_nets = 0;
        size_t deny_nets = 0;
        size_t internal_addresses = 0;
    };

    // The policy for `conf`, a conf read without errors (read_conf, parse_conf).
    [[nodiscard]] static std::shared_ptr<const Policy> build(const Conf& conf, std::vector<ConfError>& errors);

    [[nodiscard]] Decision decide(const Client& client, std::string_view recipient, Counting* counting = nullptr) const;
    [[nodiscard]] Decision decide(const Client& client, const Recipient& recipient, Counting* counting = nullptr) const;
    // What a relay attempt by this client gets (steps 2-5): the answer for any non-local recipient.
    [[nodiscard]] Decision decide_relay(const Client& client, Counting* counting = nullptr) const;
    // Whether authentication can allow this client to relay: allow-authenticated, and the port
    // is an authenticated-port (when any is set; an unknown port is none of them).
    [[nodiscard]] bool authentication_counts(const Client& client) const;
    // The limits that apply to `login`.
    [[nodiscard]] LoginLimits limits_of(std::string_view login) const { return options_.limits.lookup(login); }
    [[nodiscard]] bool has_login_limits() const { return has_limits_; }
    [[nodiscard]] bool has_authenticated_ports() const { return !options_.authenticated_ports.empty(); }
    // The reply for a refusing decision: reject-reply, limit-reply, lock-reply or a store tempfail.
    [[nodiscard]] const Reply& reply(const Decision& decision) const;
    // Whether a success or delay notice (DSN) may go to the envelope `sender`: a notice is mail to
    // the sender, so it is a relay unless the sender is local (accept, local-domain); otherwise the
    // client's relay decision applies (reject by deny-net or default: the request is dropped).
    [[nodiscard]] Decision notice_decision(const Client& client, std::string_view sender) const;
    // Whether the recipient is delivered here rather than relayed (step 1 alone).
    [[nodiscard]] bool is_local(const Recipient& recipient) const;
    // What `decision` does in this policy's mode: the one place dry-run is applied.
    [[nodiscard]] Action action(const Decision& decision) const;

    [[nodiscard]] const Reply& reject_reply() const { return options_.reject_reply; }
    [[nodiscard]] Mode mode() const { return options_.mode; }
    [[nodiscard]] bool allow_authenticated() const { return options_.allow_authenticated; }
    [[nodiscard]] const Counts& counts() const { return counts_; }
    // "2 local-domain, 3 allow-net, 1 deny-net, 0 internal-address, allow-authenticated=yes, mode=enforce"
    [[nodiscard]] std::string summary() const;
    // Memory held by the rule tables.
    [[nodiscard]] size_t bytes() const { return local_domains_.bytes() + client_nets_.bytes() + listener_nets_.bytes(); }

private:
    Policy() = default;

    // step 1 as a decision: accept with the local-domain entry, or nothing
    [[nodiscard]] std::optional<Decision> local_decision(const Recipient& recipient) const;
    // step 4 for a client authentication vouches for: its login's limits, counted
    [[nodiscard]] Decision counted_relay(const Client& client, Counting* counting) const;

    LocalDomains local_domains_;
    NetTable client_nets_;    // deny-nets, then allow-nets: the first match is a deny when one covers
    NetTable listener_nets_;  // internal-addresses
    PolicyOptions options_;
    bool has_limits_ = false;
    Counts counts_;
};

// Reads the conf at `path` and builds its policy; both set only when there are no errors.
struct LoadedPolicy {
    std::optional<Conf> conf;
    std::shared_ptr<const Policy> policy;
    std::vector<ConfError> errors;
};
[[nodiscard]] LoadedPolicy load_policy(const std::string& path);

}  // namespace relaymilter
