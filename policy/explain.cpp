// explain: one line per recipient: verdict, recipient, rule, reply, and why, from the policy's own
// decision and the entry it reported; nothing here matches rules again.
#include "explain.hpp"

namespace relaymilter {

namespace {

std::string where(const Conf& conf, int line) { return conf.path + ":" + std::to_string(line); }

// The entry of `rules` that the policy reported, as "192.0.2.0/24 (FILE:LINE)".
std::string entry_text(const Conf& conf, const NetRules& rules, uint32_t entry) {
    if (entry >= rules.size()) return "?";
    return rules[entry].net.to_string() + " (" + where(conf, rules[entry].line) + ")";
}

std::string client_text(const Client& client) {
    return client.address ? client.address->to_string() : std::string("(unknown)");
}

// Why the policy decided as it did, naming the entry it reported.
std::string why(const Conf& conf, const Policy& policy, const Client& client, const Recipient& rcpt, const Decision& d) {
    switch (d.rule) {
    case Rule::local_domain:
        if (d.entry >= conf.local_domains.size()) return "no domain and no routing: delivered here";
        return "domain " + rcpt.domain + " is local-domain " + conf.local_domains[d.entry].domain + " (" +
               where(conf, conf.local_domains[d.entry].line) + ")";
    case Rule::deny_net:
        if (!client.address) return "client address unknown, so it cannot be shown to be outside the deny-nets";
        return "client " + client_text(client) + " is in deny-net " + entry_text(conf, conf.deny_nets, d.entry);
    case Rule::authenticated:
        return "client authenticated as " + std::string(client.login);
    case Rule::allow_net:
        return "client " + client_text(client) + " is in allow-net " + entry_text(conf, conf.allow_nets, d.entry);
    case Rule::internal_address:
        return "listener " + client.listener->to_string() + " is in internal-address " +
               entry_text(conf, conf.internal_addresses, d.entry);
    case Rule::login_limit:
        return "authenticated as " + std::string(client.login) + ", over its limit of " + rate_text(d.limit.rate) +
               (d.limit.kind == LimitDetail::Kind::messages ? " messages" : " recipients");
    case Rule::login_locked:
        return "authenticated as " + std::string(client.login) + ", which is locked";
    case Rule::limits_store:
        return "authenticated as " + std::string(client.login) + ", but the limits store cannot be reached";
    case Rule::default_rule:
        break;
    }
    std::string text = "relay attempt (";
    if (!rcpt.routing.empty()) {
        text += rcpt.routing;
    } else {
        text += "domain " + rcpt.domain + " is not local";
    }
    text += "); client " + client_text(client) + " is in no allow-net; ";
    if (client.login.empty()) {
        text += "not authenticated; ";
    } else if (!policy.allow_authenticated()) {
        text += "authenticated as " + std::string(client.login) + " but allow-authenticated = no; ";
    } else if (!policy.authentication_counts(client)) {
        text += "authenticated as " + std::string(client.login) + " but " +
                (client.port ? "port " + std::to_string(*client.port) + " is no authenticated-port"
                             : std::string("the listener's port is unknown and authenticated-port is set")) +
                "; ";
    }
    if (!client.listener) {
        text += "listener unknown";
    } else if (client.listener->is_unspecified()) {
        text += "listener " + client.listener->to_string() + " is a wildcard and says nothing";
    } else {
        text += "listener " + client.listener->to_string() + " is in no internal-address";
    }
    return text;
}

std::string quoted(std::string_view text) {
    std::string out = "\"";
    for (char c : text) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out + "\"";
}

}  // namespace

std::string explain(const Conf& conf, const Policy& policy, const Client& client, std::string_view recipient) {
    // The recipient exactly as the MTA would pass it: the same parse and decision as the milter's.
    const Recipient rcpt = parse_recipient(recipient);
    const Decision decision = policy.decide(client, rcpt);
    const Action action = policy.action(decision);
    std::string line = std::string(verdict_name(decision.verdict)) + " " + bracketed(recipient) +
                       " rule=" + std::string(rule_name(decision.rule));
    if (decision.verdict != Verdict::accept) line += " reply=" + quoted(policy.reply(decision).to_string());
    line += " why=" + quoted(why(conf, policy, client, rcpt, decision));
    if (!client.login.empty() && (policy.has_login_limits() || policy.has_authenticated_ports())) {
        line += " limits=" + quoted(policy.limits_of(client.login).text());
    }
    if (action == Action::would_refuse) line += " mode=dry-run (logged as would-reject, then accepted)";
    return line;
}

}  // namespace relaymilter
