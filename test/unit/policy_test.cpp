// Tests for policy/policy: each step of the decision order, the classic open-relay recipient
// forms, null senders, IPv6 and mapped clients, listeners.
#include <catch2/catch.hpp>

#include "policy.hpp"

using namespace relaymilter;

namespace {

std::shared_ptr<const Policy> policy_from(const std::string& text) {
    ConfResult read = parse_conf(text, "test.conf");
    INFO((read.errors.empty() ? std::string() : read.errors[0].to_string()));
    REQUIRE(read.conf);
    std::vector<ConfError> errors;
    auto policy = Policy::build(*read.conf, errors);
    REQUIRE(policy);
    return policy;
}

std::optional<IpAddress> ip(const char* text) {
    if (!text) return std::nullopt;
    auto a = IpAddress::parse(text);
    REQUIRE(a);
    return a;
}

const char* kConf =
    "local-domain = example.com\n"
    "local-domain = .example.com\n"
    "local-domain = [192.0.2.25]\n"
    "allow-net = 192.168.1.0;255.255.255.0\n"
    "allow-net = 2001:db8:1::/48\n"
    "allow-net = 10.0.0.0/8\n"
    "internal-address = 192.0.2.26\n"
    "internal-address = 2001:db8:ffff::26\n"
    "deny-net = 10.66.0.0/16\n"
    "deny-net = 2001:db8:1:66::/64\n";

}  // namespace

TEST_CASE("The decision follows the documented order", "[policy]") {
    auto policy = policy_from(kConf);
    struct Row {
        const char* label;
        const char* client;
        const char* listener;
        const char* login;
        const char* rcpt;
        Verdict verdict;
        Rule rule;
    };
    const Row rows[] = {
        {"outside client, local recipient", "203.0.113.9", nullptr, "", "<user@example.com>", Verdict::accept, Rule::local_domain},
        {"outside client, subdomain recipient", "203.0.113.9", nullptr, "", "<user@mx.example.com>", Verdict::accept, Rule::local_domain},
        {"outside client, no domain", "203.0.113.9", nullptr, "", "<postmaster>", Verdict::accept, Rule::local_domain},
        {"outside client, foreign recipient", "203.0.113.9", nullptr, "", "<user@example.net>", Verdict::reject, Rule::default_rule},
        {"look-alike domain is foreign", "203.0.113.9", nullptr, "", "<user@example.com.evil.test>", Verdict::reject, Rule::default_rule},
        {"authenticated relays", "203.0.113.9", nullptr, "alice", "<user@example.net>", Verdict::accept, Rule::authenticated},
        {"allow-net Exchange form", "192.168.1.7", nullptr, "", "<user@example.net>", Verdict::accept, Rule::allow_net},
        {"allow-net CIDR", "10.1.2.3", nullptr, "", "<user@example.net>", Verdict::accept, Rule::allow_net},
        {"allow-net IPv6", "2001:db8:1::7", nullptr, "", "<user@example.net>", Verdict::accept, Rule::allow_net},
        {"allow-net via mapped client", "::ffff:192.168.1.7", nullptr, "", "<user@example.net>", Verdict::accept, Rule::allow_net},
        {"internal listener", "203.0.113.9", "192.0.2.26", "", "<user@example.net>", Verdict::accept, Rule::internal_address},
        {"internal listener IPv6", "2001:db8:9::9", "2001:db8:ffff::26", "", "<user@example.net>", Verdict::accept, Rule::internal_address},
        {"other listener", "203.0.113.9", "192.0.2.27", "", "<user@example.net>", Verdict::reject, Rule::default_rule},
        {"wildcard listener says nothing", "203.0.113.9", "0.0.0.0", "", "<user@example.net>", Verdict::reject, Rule::default_rule},
        {"deny-net beats allow-net", "10.66.1.1", nullptr, "", "<user@example.net>", Verdict::reject, Rule::deny_net},
        {"deny-net beats authenticated", "10.66.1.1", nullptr, "alice", "<user@example.net>", Verdict::reject, Rule::deny_net},
        {"deny-net beats internal listener", "10.66.1.1", "192.0.2.26", "", "<user@example.net>", Verdict::reject, Rule::deny_net},
        {"deny-net IPv6 beats allow-net IPv6", "2001:db8:1:66::1", nullptr, "alice", "<user@example.net>", Verdict::reject, Rule::deny_net},
        {"deny-net still mails local domains", "10.66.1.1", nullptr, "", "<user@example.com>", Verdict::accept, Rule::local_domain},
        {"unknown client cannot dodge deny-net", nullptr, nullptr, "alice", "<user@example.net>", Verdict::reject, Rule::deny_net},
        {"local literal", "203.0.113.9", nullptr, "", "<user@[192.0.2.25]>", Verdict::accept, Rule::local_domain},
        {"domain case and trailing dot", "203.0.113.9", nullptr, "", "<user@EXAMPLE.com.>", Verdict::accept, Rule::local_domain},
    };
    for (const Row& row : rows) {
        Client client{ip(row.client), ip(row.listener), row.login};
        Decision got = policy->decide(client, row.rcpt);
        INFO(row.label << ": got " << verdict_name(got.verdict) << " rule=" << rule_name(got.rule) << ", want "
                       << verdict_name(row.verdict) << " rule=" << rule_name(row.rule));
        CHECK(got == Decision{row.verdict, row.rule});
    }
}

TEST_CASE("allow-authenticated = no ignores the login", "[policy]") {
    auto policy = policy_from("local-domain = example.com\nallow-authenticated = no\n");
    Client client{ip("203.0.113.9"), std::nullopt, "alice"};
    CHECK(policy->decide(client, "<user@example.net>") == Decision{Verdict::reject, Rule::default_rule});
}

TEST_CASE("An unknown client with no deny-nets is an outside client", "[policy]") {
    auto policy = policy_from("local-domain = example.com\n");
    CHECK(policy->decide(Client{std::nullopt, std::nullopt, "alice"}, "<u@example.net>") ==
          Decision{Verdict::accept, Rule::authenticated});
    CHECK(policy->decide(Client{std::nullopt, std::nullopt, ""}, "<u@example.net>") ==
          Decision{Verdict::reject, Rule::default_rule});
}

// Nmap's smtp-open-relay forms, with S = the server's local domain and I = its address literal.
TEST_CASE("The 16 classic open-relay forms are refused from outside and accepted from an allow-net", "[policy][open-relay]") {
    auto policy = policy_from(kConf);
    const char* forms[] = {
        "<relaytest@nmap.scanme.org>",                        // 1-4: plain foreign (senders vary)
        "<relaytest%nmap.scanme.org@[192.0.2.25]>",           // 5  u%d@[I]
        "<relaytest%nmap.scanme.org@example.com>",            // 6  u%d@S
        "<\"relaytest@nmap.scanme.org\">",                    // 7  "u@d"
        "<\"relaytest%nmap.scanme.org\">",                    // 8  "u%d"
        "<relaytest@nmap.scanme.org@[192.0.2.25]>",           // 9  u@d@[I]
        "<\"relaytest@nmap.scanme.org\"@[192.0.2.25]>",       // 10 "u@d"@[I]
        "<relaytest@nmap.scanme.org@example.com>",            // 11 u@d@S
        "<@[192.0.2.25]:relaytest@nmap.scanme.org>",          // 12 @[I]:u@d
        "<@example.com:relaytest@nmap.scanme.org>",           // 13 @S:u@d
        "<nmap.scanme.org!relaytest>",                        // 14 d!u
        "<nmap.scanme.org!relaytest@[192.0.2.25]>",           // 15 d!u@[I]
        "<nmap.scanme.org!relaytest@example.com>",            // 16 d!u@S
        "<\"relaytest@nmap.scanme.org\"@example.com>",        // "u@d"@S
        "<relaytest%nmap.scanme.org>",                        // u%d
        "<@example.com,@[192.0.2.25]:relaytest@example.com>", // a source route ending locally
    };
    const Client outside{ip("203.0.113.9"), ip("192.0.2.25"), ""};
    const Client allowed{ip("192.168.1.7"), ip("192.0.2.25"), ""};
    for (const char* rcpt : forms) {
        Decision from_outside = policy->decide(outside, rcpt);
        Decision from_allowed = policy->decide(allowed, rcpt);
        INFO(rcpt << ": outside got " << verdict_name(from_outside.verdict) << " rule=" << rule_name(from_outside.rule)
                  << "; allowed got " << verdict_name(from_allowed.verdict) << " rule=" << rule_name(from_allowed.rule));
        CHECK(from_outside == Decision{Verdict::reject, Rule::default_rule});
        CHECK(from_allowed == Decision{Verdict::accept, Rule::allow_net});
    }
}

TEST_CASE("The envelope sender plays no part: a null sender gets no exemption", "[policy]") {
    // The API has no sender at all: the decision cannot depend on it. What remains to check is
    // that a bounce to a foreign domain is refused like any other relay attempt, which the
    // daemon tests drive with MAIL FROM:<>.
    auto policy = policy_from(kConf);
    CHECK(policy->decide(Client{ip("203.0.113.9"), std::nullopt, ""}, "<relaytest@nmap.scanme.org>") ==
          Decision{Verdict::reject, Rule::default_rule});
}

TEST_CASE("dry-run changes the mode, not the decision", "[policy]") {
    auto policy = policy_from("local-domain = example.com\nmode = dry-run\n");
    CHECK(policy->mode() == Mode::dry_run);
    CHECK(policy->decide(Client{ip("203.0.113.9"), std::nullopt, ""}, "<u@example.net>") ==
          Decision{Verdict::reject, Rule::default_rule});
}

TEST_CASE("The conf reader refuses allow rules that together cover everything", "[policy]") {
    ConfResult read = parse_conf("allow-net = 0.0.0.0/1\nallow-net = 128.0.0.0/1\n", "split.conf");
    CHECK_FALSE(read.conf);
    const std::vector<ConfError>& errors = read.errors;
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].to_string() ==
          "split.conf:2: allow-net rules together cover every IPv4 address and make an open relay; set "
          "allow-open-relay = yes if that is really meant");
}

TEST_CASE("Policy summary counts each kind of rule", "[policy]") {
    auto policy = policy_from(kConf);
    CHECK(policy->summary() ==
          "3 local-domain, 3 allow-net, 2 deny-net, 2 internal-address, allow-authenticated=yes, mode=enforce");
}

TEST_CASE("Authenticated relays are counted against the login's limits, in the documented order", "[policy][limits]") {
    auto policy = policy_from(
        "local-domain = example.com\nallow-net = 192.168.1.0/24\ninternal-address = 192.0.2.26\ndeny-net = 10.66.0.0/16\n"
        "login-recipient-limit = 4/1h\nlogin-message-limit = 2/1h\nlogin-client-limit = 2/1d\nlogin-lock-time = 2h\n"
        "login-limit = bob@example.com none\n");
    MemoryStore store;
    const Microseconds t0 = 1'800'000'000 * kSecond;
    auto decide = [&](const char* client, const char* login, const char* rcpt, bool new_message = false,
                      const char* listener = nullptr) {
        Counting counting{store, t0, new_message};
        return policy->decide(Client{ip(client), ip(listener), login}, rcpt, &counting);
    };
    // The network vouches: allow-net and internal-address relays are not counted.
    for (int i = 0; i < 10; ++i) {
        CHECK(decide("192.168.1.7", "alice@example.com", "<u@example.net>") == Decision{Verdict::accept, Rule::allow_net});
        CHECK(decide("203.0.113.9", "alice@example.com", "<u@example.net>", false, "192.0.2.26") ==
              Decision{Verdict::accept, Rule::internal_address});
        CHECK(decide("203.0.113.9", "alice@example.com", "<u@example.com>") == Decision{Verdict::accept, Rule::local_domain});
    }
    CHECK(decide("10.66.1.1", "alice@example.com", "<u@example.net>") == Decision{Verdict::reject, Rule::deny_net});
    // Authentication: two messages of three recipients; a third message is over the message limit
    // (451, limit-reply's default), a fourth recipient is not, a fifth is over the recipient limit.
    const Decision first = decide("203.0.113.9", "Alice@Example.com", "<u@example.net>", true);
    CHECK(first == Decision{Verdict::accept, Rule::authenticated});
    CHECK(first.limit.counted);
    CHECK(decide("203.0.113.9", "alice@example.com", "<v@example.net>") == Decision{Verdict::accept, Rule::authenticated});
    CHECK(decide("203.0.113.9", "alice@example.com", "<w@example.net>", true) == Decision{Verdict::accept, Rule::authenticated});
    const Decision over_messages = decide("203.0.113.9", "alice@example.com", "<x@example.net>", true);
    CHECK(over_messages == Decision{Verdict::tempfail, Rule::login_limit});
    CHECK(over_messages.limit.kind == LimitDetail::Kind::messages);
    CHECK(policy->reply(over_messages).to_string() == "451 4.7.1 Relay limit reached for this login; try again later");
    CHECK(decide("203.0.113.9", "alice@example.com", "<x@example.net>") == Decision{Verdict::accept, Rule::authenticated});
    const Decision over = decide("203.0.113.9", "alice@example.com", "<y@example.net>");
    CHECK(over == Decision{Verdict::tempfail, Rule::login_limit});
    CHECK(over.limit.kind == LimitDetail::Kind::recipients);
    CHECK(rate_text(over.limit.rate) == "4/1h");
    // A third client address locks the login, for that attempt and every later one.
    CHECK(decide("198.51.100.1", "alice@example.com", "<z@example.net>") == Decision{Verdict::tempfail, Rule::login_limit});
    const Decision lock = decide("198.51.100.2", "alice@example.com", "<z@example.net>");
    CHECK(lock == Decision{Verdict::reject, Rule::login_locked});
    CHECK(lock.limit.locked_now);
    CHECK(lock.limit.clients == 3);
    CHECK(lock.limit.locked_until == t0 + 2 * 3600 * kSecond);
    CHECK(policy->reply(lock).to_string() == "550 5.7.1 This login may not relay now; contact your administrator");
    CHECK(decide("203.0.113.9", "alice@example.com", "<z@example.net>") == Decision{Verdict::reject, Rule::login_locked});
    CHECK(decide("203.0.113.9", "alice@example.com", "<z@example.com>") == Decision{Verdict::accept, Rule::local_domain});
    // A login with "none" is never counted; offline (no counting) nothing is.
    for (int i = 0; i < 10; ++i) {
        CHECK(decide(i % 2 ? "203.0.113.9" : "198.51.100.7", "bob@example.com", "<u@example.net>", true) ==
              Decision{Verdict::accept, Rule::authenticated});
    }
    CHECK(policy->decide(Client{ip("203.0.113.9"), std::nullopt, "alice@example.com"}, "<u@example.net>") ==
          Decision{Verdict::accept, Rule::authenticated});
}

TEST_CASE("authenticated-port: authentication counts only on those ports; an unknown port is none", "[policy][limits]") {
    auto policy = policy_from("local-domain = example.com\nauthenticated-port = 587\nauthenticated-port = 465\n");
    auto decide = [&](std::optional<uint16_t> port, const char* login) {
        Client client{ip("203.0.113.9"), std::nullopt, login};
        client.port = port;
        return policy->decide(client, "<u@example.net>");
    };
    CHECK(decide(587, "alice") == Decision{Verdict::accept, Rule::authenticated});
    CHECK(decide(465, "alice") == Decision{Verdict::accept, Rule::authenticated});
    CHECK(decide(25, "alice") == Decision{Verdict::reject, Rule::default_rule});
    CHECK(decide(std::nullopt, "alice") == Decision{Verdict::reject, Rule::default_rule});
    CHECK(decide(587, "") == Decision{Verdict::reject, Rule::default_rule});
}

TEST_CASE("dry-run lets limit and lock refusals pass, logged", "[policy][limits]") {
    auto policy = policy_from("local-domain = example.com\nlogin-recipient-limit = 1/1h\nlimit-reply = 550 5.7.1 Enough\nmode = dry-run\n");
    MemoryStore store;
    Counting counting{store, 1'800'000'000 * kSecond, true};
    const Client alice{ip("203.0.113.9"), std::nullopt, "alice"};
    CHECK(policy->action(policy->decide(alice, "<u@example.net>", &counting)) == Action::accept);
    const Decision over = policy->decide(alice, "<u@example.net>", &counting);
    CHECK(over == Decision{Verdict::reject, Rule::login_limit});
    CHECK(policy->action(over) == Action::would_refuse);
    CHECK(policy->reply(over).to_string() == "550 5.7.1 Enough");
}
