// policy: building the tables from a conf and the four-step decision.
#include "policy.hpp"

namespace relaymilter {

std::string_view rule_name(Rule rule) {
    switch (rule) {
    case Rule::local_domain: return "local-domain";
    case Rule::deny_net: return "deny-net";
    case Rule::authenticated: return "authenticated";
    case Rule::allow_net: return "allow-net";
    case Rule::internal_address: return "internal-address";
    case Rule::default_rule: return "default";
    }
    return "default";
}

std::string_view verdict_name(Verdict verdict) {
    switch (verdict) {
    case Verdict::accept: return "ACCEPT";
    case Verdict::reject: return "REJECT";
    case Verdict::tempfail: return "TEMPFAIL";
    }
    return "TEMPFAIL";
}

std::shared_ptr<const Policy> Policy::build(const Conf& conf, std::vector<ConfError>& errors) {
    std::shared_ptr<Policy> policy(new Policy());
    for (const DomainRule& rule : conf.local_domains) policy->local_domains_.add(rule.domain);

    NetTable::Builder nets(conf.deny_nets.size() + conf.allow_nets.size() + conf.internal_addresses.size());
    for (const NetRule& rule : conf.deny_nets) nets.add(rule.net, kDenyNet);
    for (const NetRule& rule : conf.allow_nets) nets.add(rule.net, kAllowNet);
    for (const NetRule& rule : conf.internal_addresses) nets.add(rule.net, kInternalAddress);
    policy->nets_ = std::move(nets).build();

    if (!conf.allow_open_relay) {
        // Single rules covering everything are caught by the conf reader with their line;
        // this catches several that do it together (0.0.0.0/1 and 128.0.0.0/1).
        struct Kind {
            RuleTags tag;
            const NetRules& rules;
            const char* key;
        };
        for (const Kind& kind : {Kind{kAllowNet, conf.allow_nets, "allow-net"},
                                 Kind{kInternalAddress, conf.internal_addresses, "internal-address"}}) {
            const char* family = policy->nets_.covers_all_v4(kind.tag)   ? "IPv4"
                                 : policy->nets_.covers_all_v6(kind.tag) ? "IPv6"
                                                                          : nullptr;
            if (family && !kind.rules.empty()) {
                errors.push_back({conf.path, kind.rules.back().line,
                                  std::string(kind.key) + " rules together cover every " + family +
                                      " address and make an open relay; set allow-open-relay = yes if that is really meant"});
            }
        }
    }
    if (!errors.empty()) return nullptr;

    policy->allow_authenticated_ = conf.allow_authenticated;
    policy->reject_reply_ = conf.reject_reply;
    policy->mode_ = conf.mode;
    policy->counts_ = {conf.local_domains.size(), conf.allow_nets.size(), conf.deny_nets.size(),
                       conf.internal_addresses.size()};
    return policy;
}

bool Policy::is_local(const Recipient& recipient) const {
    return recipient.routing.empty() && (recipient.domain.empty() || local_domains_.contains(recipient.domain));
}

RuleTags Policy::client_tags(const Client& client) const {
    RuleTags tags = 0;
    if (client.address) {
        tags = static_cast<RuleTags>(nets_.lookup(*client.address) & (kDenyNet | kAllowNet));
    } else if (counts_.deny_nets) {
        tags = kDenyNet;  // an unknown client cannot be shown to be outside the deny-nets
    }
    if (client.listener && !client.listener->is_unspecified()) {
        tags = static_cast<RuleTags>(tags | (nets_.lookup(*client.listener) & kInternalAddress));
    }
    return tags;
}

Decision Policy::decide(const Client& client, const Recipient& recipient) const {
    if (is_local(recipient)) return {Verdict::accept, Rule::local_domain};
    return decide_relay(client);
}

Decision Policy::notice_decision(const Client& client, std::string_view sender) const {
    return decide(client, sender);  // the sender is where the notice goes: judged as a recipient
}

Decision Policy::decide_relay(const Client& client) const {
    const RuleTags tags = client_tags(client);
    if (tags & kDenyNet) return {Verdict::reject, Rule::deny_net};
    if (allow_authenticated_ && !client.login.empty()) return {Verdict::accept, Rule::authenticated};
    if (tags & kAllowNet) return {Verdict::accept, Rule::allow_net};
    if (tags & kInternalAddress) return {Verdict::accept, Rule::internal_address};
    return {Verdict::reject, Rule::default_rule};
}

Decision Policy::decide(const Client& client, std::string_view recipient) const {
    return decide(client, parse_recipient(recipient));
}

std::string Policy::summary() const {
    return std::to_string(counts_.local_domains) + " local-domain, " + std::to_string(counts_.allow_nets) +
           " allow-net, " + std::to_string(counts_.deny_nets) + " deny-net, " +
           std::to_string(counts_.internal_addresses) + " internal-address, allow-authenticated=" +
           (allow_authenticated_ ? "yes" : "no") + ", mode=" + (mode_ == Mode::enforce ? "enforce" : "dry-run");
}

LoadedPolicy load_policy(const std::string& path) {
    LoadedPolicy loaded;
    ConfResult read = read_conf(path);
    loaded.errors = std::move(read.errors);
    if (!read.conf) return loaded;
    loaded.policy = Policy::build(*read.conf, loaded.errors);
    if (loaded.policy) loaded.conf = std::move(read.conf);
    return loaded;
}

}  // namespace relaymilter
