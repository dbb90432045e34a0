// explain: one line per recipient: verdict, recipient, rule, reply, and why.
#include "explain.hpp"

namespace relaymilter {

namespace {

std::string where(const Conf& conf, int line) { return conf.path + ":" + std::to_string(line); }

// The first rule of `rules` that contains `address`, as "192.0.2.0/24 (FILE:LINE)".
std::string matching_net(const Conf& conf, const NetRules& rules, const IpAddress& address) {
    for (const NetRule& rule : rules) {
        if (rule.net.contains(address)) return rule.net.to_string() + " (" + where(conf, rule.line) + ")";
    }
    return "?";
}

std::string matching_domain(const Conf& conf, std::string_view domain) {
    for (const DomainRule& rule : conf.local_domains) {
        const std::string& d = rule.domain;
        bool match = d == domain ||
                     (d.front() == '.' && domain.size() > d.size() && domain.substr(domain.size() - d.size()) == d);
        if (match) return d + " (" + where(conf, rule.line) + ")";
    }
    return "?";
}

std::string client_text(const Client& client) {
    return client.address ? client.address->to_string() : std::string("(unknown)");
}

std::string why(const Conf& conf, const Policy& policy, const Client& client, const Recipient& rcpt, Rule rule) {
    switch (rule) {
    case Rule::local_domain:
        if (rcpt.domain.empty()) return "no domain and no routing: delivered here";
        return "domain " + rcpt.domain + " is local-domain " + matching_domain(conf, rcpt.domain);
    case Rule::deny_net:
        if (!client.address) return "client address unknown, so it cannot be shown to be outside the deny-nets";
        return "client " + client_text(client) + " is in deny-net " + matching_net(conf, conf.deny_nets, *client.address);
    case Rule::authenticated:
        return "client authenticated as " + std::string(client.login);
    case Rule::allow_net:
        return "client " + client_text(client) + " is in allow-net " + matching_net(conf, conf.allow_nets, *client.address);
    case Rule::internal_address:
        return "listener " + client.listener->to_string() + " is in internal-address " +
               matching_net(conf, conf.internal_addresses, *client.listener);
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

std::string bracketed(std::string_view address) {
    if (!address.empty() && address.front() == '<') return std::string(address);
    return "<" + std::string(address) + ">";
}

std::string explain(const Conf& conf, const Policy& policy, const Client& client, std::string_view recipient) {
    // The recipient exactly as the MTA would pass it: the same parse and decision as the milter's.
    const Recipient rcpt = parse_recipient(recipient);
    const Decision decision = policy.decide(client, rcpt);
    std::string line = std::string(verdict_name(decision.verdict)) + " " + bracketed(recipient) +
                       " rule=" + std::string(rule_name(decision.rule));
    if (decision.verdict == Verdict::reject) line += " reply=" + quoted(policy.reject_reply().to_string());
    line += " why=" + quoted(why(conf, policy, client, rcpt, decision.rule));
    if (decision.verdict == Verdict::reject && policy.mode() == Mode::dry_run) {
        line += " mode=dry-run (logged as would-reject, then accepted)";
    }
    return line;
}

}  // namespace relaymilter
