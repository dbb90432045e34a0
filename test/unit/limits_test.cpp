// Tests for policy/limits: rates and durations as the conf writes them, login-limit settings,
// and which level's limits apply to a login.
#include <catch2/catch.hpp>

#include "limits.hpp"

using namespace relaymilter;

TEST_CASE("Rates and durations parse as the conf writes them, and print back", "[limits]") {
    struct Row {
        const char* text;
        uint32_t count;      // 0: refused
        uint32_t seconds;
        const char* why;     // part of the reason when refused
    };
    const Row rows[] = {
        {"500/1h", 500, 3600, ""},
        {"30/30s", 30, 30, ""},
        {"10/1d", 10, 86400, ""},
        {"100/10m", 100, 600, ""},
        {"500/1hour", 0, 0, "the period is a number and one of s, m, h, d"},
        {"500/h", 0, 0, "the period is a number"},
        {"500", 0, 0, "write N/PERIOD"},
        {"0/1h", 0, 0, "from 1 to 1000000"},
        {"-5/1h", 0, 0, "from 1 to 1000000"},
        {"5/0s", 0, 0, "the period"},
        {"5/400d", 0, 0, "the period"},
        {" 5/1h", 0, 0, "from 1 to 1000000"},
    };
    for (const Row& row : rows) {
        std::string why;
        auto rate = parse_rate(row.text, why);
        INFO(row.text << ": " << (rate ? rate_text(*rate) : "refused: " + why));
        if (row.count) {
            REQUIRE(rate);
            CHECK(*rate == Rate{row.count, row.seconds});
            CHECK(rate_text(*rate) == row.text);
        } else {
            CHECK_FALSE(rate);
            CHECK(why.find(row.why) != std::string::npos);
        }
    }
    std::string why;
    CHECK(parse_duration("90s", why) == 90u);
    CHECK(duration_text(90) == "90s");
    CHECK(duration_text(5400) == "90m");
    CHECK_FALSE(parse_duration("1w", why));
}

TEST_CASE("login-limit settings name what they change and leave the rest to the next level", "[limits]") {
    std::string why;
    auto none = parse_limit_settings("none", why);
    REQUIRE(none);
    CHECK((none->recipients.set && !none->recipients.rate && none->clients.set && !none->clients.rate));
    auto some = parse_limit_settings("recipients=50/1h  clients=none", why);
    REQUIRE(some);
    CHECK((some->recipients.set && some->recipients.rate == Rate{50, 3600}));
    CHECK((some->clients.set && !some->clients.rate));
    CHECK_FALSE(some->messages.set);
    CHECK_FALSE(parse_limit_settings("recipients=50/1hour", why));
    CHECK(why == "recipients='50/1hour': the period is a number and one of s, m, h, d, e.g. 500/1h");
    CHECK_FALSE(parse_limit_settings("rcpts=5/1h", why));
    CHECK(why.find("'rcpts=5/1h' is not recipients=") == 0);
    CHECK_FALSE(parse_limit_settings("recipients=5/1h recipients=6/1h", why));
    CHECK_FALSE(parse_limit_settings("", why));
}

TEST_CASE("A login's limits: the login, then its domain, then the global keys", "[limits]") {
    std::string why;
    LimitTable table;
    LimitSettings global;
    global.recipients = {true, Rate{500, 3600}};
    global.messages = {true, Rate{100, 3600}};
    global.clients = {true, Rate{10, 86400}};
    table.set_global(global);
    CHECK(table.add("@example.org", *parse_limit_settings("recipients=2000/1h", why)));
    CHECK(table.add("Bob@Example.ORG", *parse_limit_settings("messages=none", why)));
    CHECK(table.add("carol@example.com", *parse_limit_settings("none", why)));
    CHECK_FALSE(table.add("carol@EXAMPLE.com", *parse_limit_settings("none", why)));  // the same login again
    struct Row {
        const char* login;
        const char* want;
    };
    const Row rows[] = {
        {"alice@example.com", "recipients 500/1h, messages 100/1h, clients 10/1d"},
        {"ALICE@EXAMPLE.COM", "recipients 500/1h, messages 100/1h, clients 10/1d"},
        {"dave@example.org", "recipients 2000/1h, messages 100/1h, clients 10/1d"},
        {"bob@example.org", "recipients 2000/1h, clients 10/1d"},
        {"BOB@example.org", "recipients 2000/1h, clients 10/1d"},
        {"carol@example.com", "none"},
        {"alice", "recipients 500/1h, messages 100/1h, clients 10/1d"},
    };
    for (const Row& row : rows) {
        INFO(row.login);
        CHECK(table.lookup(row.login).text() == row.want);
    }
    CHECK(table.any());
    CHECK_FALSE(LimitTable{}.any());
}
