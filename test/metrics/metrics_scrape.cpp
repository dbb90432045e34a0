// metrics_scrape: serves the metrics module on a free loopback port with a sample of every kind
// of event recorded (every rule of the policy and of the login limits, a Redis store), scrapes it
// once over HTTP and prints the body, for `promtool check metrics`. Exit 1 when any step fails.
#include <cstdio>
#include <iostream>

#include "http_scrape.hpp"
#include "metrics.hpp"
#include "version.hpp"

using namespace relaymilter;

int main() {
    try {
        Metrics metrics(Metrics::Setup{kVersion, {"negotiate", "connect", "mail", "rcpt", "eom"}, true});
        std::vector<Metrics::RuleCounters> rules;
        for (Rule rule : {Rule::local_domain, Rule::deny_net, Rule::authenticated, Rule::allow_net,
                          Rule::internal_address, Rule::default_rule}) {
            rules.push_back(metrics.rule(rule_name(rule)));
        }
        rules.push_back(metrics.rule("login-limit"));  // the rules of the login limits (issue 16)
        rules.push_back(metrics.rule("login-locked"));
        if (const auto why = metrics.start(MetricsAddress{*IpAddress::parse("127.0.0.1"), 0})) {
            std::cerr << "metrics_scrape: " << *why << "\n";
            return 1;
        }
        const Action actions[] = {Action::accept, Action::refuse, Action::would_refuse, Action::tempfail};
        for (size_t i = 0; i < rules.size(); ++i) {
            metrics.decision(rules[i], actions[i % 4], std::chrono::microseconds(1 + 37 * i));
        }
        metrics.decision(rules[0], Action::accept, std::chrono::seconds(3));  // past the last bucket
        metrics.notice_suppressed();
        metrics.login_locked();
        metrics.locked_logins_from([] { return std::optional<double>(1); });
        metrics.session_opened();
        metrics.callback_error("rcpt");
        metrics.reload_ok();
        metrics.reload_refused();
        metrics.rules(Policy::Counts{2, 3, 1, 1});
        metrics.store_up(true);
        metrics.store_error();
        const auto reply = test::http_request(metrics.port(), "GET", "/metrics");
        if (reply.status != 200) {
            std::cerr << "metrics_scrape: GET /metrics answered " << reply.status << "\n" << reply.headers << "\n";
            return 1;
        }
        std::cout << reply.body;
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "metrics_scrape: " << e.what() << "\n";
        return 1;
    }
}
