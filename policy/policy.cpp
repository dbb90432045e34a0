// policy: building the tables from a conf and the four-step decision.
#include "policy.hpp"

#include <algorithm>

namespace relaymilter {

std::string_view rule_name(Rule rule) {
    switch (rule) {
    case Rule::local_domain: return "local-domain";
    case Rule::deny_net: return "deny-net";
    case Rule::authenticated: return "authenticated";
    case Rule::allow_net: return "allow-net";
    case Rule::internal_address: return "internal-address";
    case Rule::default_rule: return "default";
    case Rule::login_limit: return "login-limit";
    case Rule::login_locked: return "login-locked";
    case Rule::limits_store: return "limits-store";
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
    policy->has_limits_ = conf.policy.limits.any();
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
    if (decision.verdict == Verdict::accept) return Action::accept;
    if (options_.mode == Mode::dry_run) return Action::would_refuse;
    return decision.verdict == Verdict::tempfail ? Action::tempfail : Action::refuse;
}

const Reply& Policy::reply(const Decision& decision) const {
    static const Reply kStoreDown{"451", "4.7.1", "Relay limits cannot be checked now; try again later"};
    switch (decision.rule) {
    case Rule::login_limit: return options_.limit_reply;
    case Rule::login_locked: return options_.lock_reply;
    case Rule::limits_store: return kStoreDown;
    default: return options_.reject_reply;
    }
}

bool Policy::authentication_counts(const Client& client) const {
    if (!options_.allow_authenticated || client.login.empty()) return false;
    const auto& ports = options_.authenticated_ports;
    if (ports.empty()) return true;
    return client.port && std::find(ports.begin(), ports.end(), *client.port) != ports.end();
}

Decision Policy::decide(const Client& client, const Recipient& recipient, Counting* counting) const {
    if (auto local = local_decision(recipient)) return *local;
    return decide_relay(client, counting);
}

Decision Policy::notice_decision(const Client& client, std::string_view sender) const {
    return decide(client, sender);  // the sender is where the notice goes: judged as a recipient
}

Decision Policy::decide_relay(const Client& client, Counting* counting) const {
    NetMatch nets;
    if (client.address) {
        nets = client_nets_.match(*client.address);
    } else if (counts_.deny_nets) {
        return {Verdict::reject, Rule::deny_net};  // an unknown client cannot be shown to be outside the deny-nets
    }
    if (nets.tags & kDenyNet) return {Verdict::reject, Rule::deny_net, nets.first};
    const auto deny_nets = static_cast<uint32_t>(counts_.deny_nets);
    if (nets.tags & kAllowNet) return {Verdict::accept, Rule::allow_net, nets.first - deny_nets};
    if (client.listener && !client.listener->is_unspecified()) {
        const NetMatch internal = listener_nets_.match(*client.listener);
        if (internal.tags) return {Verdict::accept, Rule::internal_address, internal.first};
    }
    if (authentication_counts(client)) return counted_relay(client, counting);
    return {Verdict::reject, Rule::default_rule};
}

Decision Policy::counted_relay(const Client& client, Counting* counting) const {
    Decision accepted{Verdict::accept, Rule::authenticated};
    if (!has_limits_ || !counting) return accepted;
    const LoginLimits limits = options_.limits.lookup(client.login);
    if (!limits.any()) return accepted;
    const RelayCount count = counting->store.relay(RelayAttempt{client.login, limits, ClientKey::of(client.address),
                                                                counting->new_message, counting->now, options_.lock_seconds});
    const Verdict limit_verdict = options_.limit_reply.code[0] == '4' ? Verdict::tempfail : Verdict::reject;
    const Verdict lock_verdict = options_.lock_reply.code[0] == '4' ? Verdict::tempfail : Verdict::reject;
    Decision d{Verdict::accept, Rule::authenticated};
    switch (count.outcome) {
    case RelayCount::Outcome::allowed:
        d.limit.counted = true;
        return d;
    case RelayCount::Outcome::recipient_limit:
        d = {limit_verdict, Rule::login_limit};
        d.limit.kind = LimitDetail::Kind::recipients;
        d.limit.rate = *limits.recipients;
        return d;
    case RelayCount::Outcome::message_limit:
        d = {limit_verdict, Rule::login_limit};
        d.limit.kind = LimitDetail::Kind::messages;
        d.limit.rate = *limits.messages;
        return d;
    case RelayCount::Outcome::locked_now:
        d = {lock_verdict, Rule::login_locked};
        d.limit.kind = LimitDetail::Kind::clients;
        d.limit.rate = *limits.clients;
        d.limit.clients = count.clients;
        d.limit.locked_now = true;
        d.limit.locked_until = count.locked_until;
        return d;
    case RelayCount::Outcome::locked:
        d = {lock_verdict, Rule::login_locked};
        d.limit.locked_until = count.locked_until;
        return d;
    case RelayCount::Outcome::unavailable:
        break;
    }
    return {Verdict::tempfail, Rule::limits_store};
}

Decision Policy::decide(const Client& client, std::string_view recipient, Counting* counting) const {
    return decide(client, parse_recipient(recipient), counting);
}

std::string Policy::summary() const {
    std::string text = std::to_string(counts_.local_domains) + " local-domain, " + std::to_string(counts_.allow_nets) +
                       " allow-net, " + std::to_string(counts_.deny_nets) + " deny-net, " +
                       std::to_string(counts_.internal_addresses) + " internal-address, allow-authenticated=" +
                       (options_.allow_authenticated ? "yes" : "no") +
                       ", mode=" + (options_.mode == Mode::enforce ? "enforce" : "dry-run");
    if (has_limits_) text += ", login limits (" + options_.limits.lookup("").text() + " unless overridden)";
    if (!options_.authenticated_ports.empty()) {
        text += ", authenticated-port=";
        for (size_t i = 0; i < options_.authenticated_ports.size(); ++i) {
            text += (i ? "," : "") + std::to_string(options_.authenticated_ports[i]);
        }
    }
    return text;
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
