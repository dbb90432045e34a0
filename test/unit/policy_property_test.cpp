// Property test for policy/policy: for random rule sets, clients and recipients, the policy's
// decision (hash sets, segment index) agrees with a plain reference written straight from the
// documented decision order (linear scans over the conf's rule lists), at least a million times.
#include <catch2/catch.hpp>

#include <random>

#include "policy.hpp"
#include "random_nets.hpp"

using namespace relaymilter;
using relaymilter::testing::random_address;
using relaymilter::testing::random_net;

namespace {

bool contained(const NetRules& rules, const std::optional<IpAddress>& a) {
    if (!a) return false;
    for (const NetRule& r : rules) {
        if (r.net.contains(*a)) return true;
    }
    return false;
}

bool local_domain(const Conf& conf, const std::string& domain) {
    for (const DomainRule& rule : conf.local_domains) {
        const std::string& d = rule.domain;
        if (d == domain) return true;
        if (d.front() == '.' && domain.size() > d.size() && domain.compare(domain.size() - d.size(), d.size(), d) == 0) {
            return true;
        }
    }
    return false;
}

// The decision order as the README states it, with nothing clever.
Decision reference(const Conf& conf, const Client& client, std::string_view rcpt) {
    const Recipient r = parse_recipient(rcpt);
    if (r.routing.empty() && (r.domain.empty() || local_domain(conf, r.domain))) return {Verdict::accept, Rule::local_domain};
    if (client.address ? contained(conf.deny_nets, client.address) : !conf.deny_nets.empty()) {
        return {Verdict::reject, Rule::deny_net};
    }
    if (contained(conf.allow_nets, client.address)) return {Verdict::accept, Rule::allow_net};
    if (client.listener && !client.listener->is_unspecified() && contained(conf.internal_addresses, client.listener)) {
        return {Verdict::accept, Rule::internal_address};
    }
    if (conf.policy.allow_authenticated && !client.login.empty()) return {Verdict::accept, Rule::authenticated};
    return {Verdict::reject, Rule::default_rule};
}

const char* kDomains[] = {"example.com", "mx.example.com", "a.b.example.com", "example.net", "corp.example.net",
                          "x.corp.example.net", "[192.0.2.25]", "[ipv6:2001:db8::25]", "gmail.com", "com"};
const char* kLocalParts[] = {"user", "postmaster", "\"john doe\"", "u%gmail.com", "gmail.com!u", "\"u@d\"", "u\\@x"};

std::string random_recipient(std::mt19937_64& rng) {
    switch (rng() % 8) {
    case 0: return "<postmaster>";
    case 1: return "<@example.com:user@gmail.com>";
    case 2: return "<" + std::string(kLocalParts[rng() % std::size(kLocalParts)]) + ">";
    default: {
        std::string domain = kDomains[rng() % std::size(kDomains)];
        if (rng() % 5 == 0) domain += ".";
        if (rng() % 5 == 0) domain[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(domain[0])));
        return "<" + std::string(kLocalParts[rng() % std::size(kLocalParts)]) + "@" + domain + ">";
    }
    }
}

}  // namespace

TEST_CASE("Policy decisions agree with a linear reference on a million random cases", "[policy][property]") {
    std::mt19937_64 rng(7);
    size_t pairs = 0;
    for (int round = 0; round < 1000; ++round) {
        Conf conf;
        conf.path = "random.conf";
        for (const char* d : {"example.com", ".example.com", ".corp.example.net", "[192.0.2.25]"}) {
            if (rng() % 2) conf.local_domains.push_back({d, 1});
        }
        conf.policy.allow_authenticated = rng() % 4 != 0;
        std::vector<TaggedNet> all;
        for (auto* list : {&conf.allow_nets, &conf.deny_nets, &conf.internal_addresses}) {
            const size_t count = rng() % 3 == 0 ? 0 : rng() % 60;
            for (size_t i = 0; i < count; ++i) {
                Net n = random_net(rng);
                if (list != &conf.deny_nets && (n.covers_all_v4() || n.covers_all_v6())) continue;
                list->push_back({n, 1});
                all.push_back({n, 1});
            }
        }
        conf.policy.allow_open_relay = true;  // random halves may cover everything together; not what this tests
        std::vector<ConfError> errors;
        auto policy = Policy::build(conf, errors);
        REQUIRE(policy);
        for (int q = 0; q < 1000; ++q) {
            Client client;
            if (rng() % 20 != 0) client.address = random_address(rng, all);
            if (rng() % 2) client.listener = rng() % 10 == 0 ? IpAddress::from_v4(0) : random_address(rng, all);
            const std::string login = rng() % 4 == 0 ? "alice" : "";
            client.login = login;
            const std::string rcpt = random_recipient(rng);
            const Decision got = policy->decide(client, rcpt);
            const Decision want = reference(conf, client, rcpt);
            if (got != want) {
                FAIL("round " << round << ": client " << (client.address ? client.address->to_string() : "-") << " listener "
                              << (client.listener ? client.listener->to_string() : "-") << " login '" << login << "' rcpt "
                              << rcpt << ": got " << verdict_name(got.verdict) << " " << rule_name(got.rule) << ", want "
                              << verdict_name(want.verdict) << " " << rule_name(want.rule));
            }
            ++pairs;
        }
    }
    CHECK(pairs == 1000000);
}
