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

std::shared_ptr<const Policy> Policy::build(const Conf& conf, std::vector<ConfError>&) {
    std::shared_ptr<Policy> policy(new Policy());
    for (const DomainRule& rule : conf.local_domains) policy->local_domains_.add(rule.domain);

    // Positions in these tables are the rules' positions in the conf's lists, deny-nets first.
    NetTable::Builder client(conf.deny_nets.size() + conf.allow_nets.size());
    for (const NetRule& rule : conf.deny_nets) client.add(rule.net, kDenyNet);
    for (const NetRule& rule : conf.allow_nets) client.add(rule.net, kAllowNet);
    policy->client_nets_ = std::move(client).build();
    NetTable::Builder listener(conf.internal_addresses.size());
    for (const NetRule& rule : conf.internal_addresses) listener.add(rule.net, kInternalAddress);
    policy->listener_nets_ = std::move(listener).build();

    policy->options_ = conf.policy;
    policy->counts_ = {conf.local_domains.size(), conf.allow_nets.size(), conf.deny_nets.size(),
                       conf.internal_addresses.size()};
    return policy;
}

std::optional<Decision> Policy::local_decision(const Recipient& recipient) const {
    if (!recipient.routing.empty()) return std::nullopt;
    if (recipient.domain.empty()) return Decision{Verdict::accept, Rule::local_domain};
    if (auto entry = local_domains_.find(recipient.domain)) return Decision{Verdict::accept, Rule::local_domain, *entry};
    return std::nullopt;
}

bool Policy::is_local(const Recipient& recipient) const { return local_decision(recipient).has_value(); }

Action Policy::action(const Decision& decision) const {
    switch (decision.verdict) {
    case Verdict::accept: return Action::accept;
    case Verdict::tempfail: return Action::tempfail;
    case Verdict::reject: break;
    }
    return options_.mode == Mode::dry_run ? Action::would_refuse : Action::refuse;
}

Decision Policy::decide(const Client& client, const Recipient& recipient) const {
    if (auto local = local_decision(recipient)) return *local;
    return decide_relay(client);
}

Decision Policy::notice_decision(const Client& client, std::string_view sender) const {
    return decide(client, sender);  // the sender is where the notice goes: judged as a recipient
}

Decision Policy::decide_relay(const Client& client) const {
    NetMatch nets;
    if (client.address) {
        nets = client_nets_.match(*client.address);
    } else if (counts_.deny_nets) {
        return {Verdict::reject, Rule::deny_net};  // an unknown client cannot be shown to be outside the deny-nets
    }
    if (nets.tags & kDenyNet) return {Verdict::reject, Rule::deny_net, nets.first};
    if (options_.allow_authenticated && !client.login.empty()) return {Verdict::accept, Rule::authenticated};
    const auto deny_nets = static_cast<uint32_t>(counts_.deny_nets);
    if (nets.tags & kAllowNet) return {Verdict::accept, Rule::allow_net, nets.first - deny_nets};
    if (client.listener && !client.listener->is_unspecified()) {
        const NetMatch internal = listener_nets_.match(*client.listener);
        if (internal.tags) return {Verdict::accept, Rule::internal_address, internal.first};
    }
    return {Verdict::reject, Rule::default_rule};
}

Decision Policy::decide(const Client& client, std::string_view recipient) const {
    return decide(client, parse_recipient(recipient));
}

std::string Policy::summary() const {
    return std::to_string(counts_.local_domains) + " local-domain, " + std::to_string(counts_.allow_nets) +
           " allow-net, " + std::to_string(counts_.deny_nets) + " deny-net, " +
           std::to_string(counts_.internal_addresses) + " internal-address, allow-authenticated=" +
           (options_.allow_authenticated ? "yes" : "no") + ", mode=" + (options_.mode == Mode::enforce ? "enforce" : "dry-run");
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
