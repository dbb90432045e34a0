// Tests for policy/metrics_address: the forms of `metrics = ...` it takes, how they print back,
// and a reason for each form it refuses.
#include <catch2/catch.hpp>

#include "metrics_address.hpp"

using namespace relaymilter;

TEST_CASE("metrics addresses parse as the conf writes them, and print back", "[metrics_address]") {
    struct Row {
        const char* text;
        const char* want;       // to_string()
        const char* host_port;  // host_port()
        bool v6;
    };
    const Row rows[] = {
        {"inet:9757@127.0.0.1", "inet:9757@127.0.0.1", "127.0.0.1:9757", false},
        {"inet:1@10.0.0.1", "inet:1@10.0.0.1", "10.0.0.1:1", false},
        {"inet:65535@0.0.0.0", "inet:65535@0.0.0.0", "0.0.0.0:65535", false},
        {"inet6:9757@[::1]", "inet6:9757@[::1]", "[::1]:9757", true},
        {"inet6:9757@::1", "inet6:9757@[::1]", "[::1]:9757", true},
        {"inet6:9757@[2001:DB8::7]", "inet6:9757@[2001:db8::7]", "[2001:db8::7]:9757", true},
        {"inet6:9757@[::]", "inet6:9757@[::]", "[::]:9757", true},
    };
    for (const Row& row : rows) {
        std::string why;
        const auto parsed = parse_metrics_address(row.text, why);
        INFO(row.text << ": got " << (parsed ? parsed->to_string() : "refused: " + why) << ", want " << row.want);
        REQUIRE(parsed);
        CHECK(parsed->to_string() == row.want);
        CHECK(parsed->host_port() == row.host_port);
        CHECK(parsed->is_v6() == row.v6);
    }
}

TEST_CASE("metrics addresses that are wrong or ambiguous are refused with the fix", "[metrics_address]") {
    struct Row {
        const char* text;
        const char* why;  // part of the reason
    };
    const Row rows[] = {
        {"9757", "not an HTTP listening address: write inet:PORT@ADDR, e.g. inet:9757@127.0.0.1, or inet6:PORT@[ADDR]"},
        {"unix:/run/relaymilter/metrics.sock", "not an HTTP listening address: write"},
        {"http://127.0.0.1:9757/metrics", "not an HTTP listening address: write"},
        {"tcp:9757@127.0.0.1", "not an HTTP listening address: write"},
        {"inet:@127.0.0.1", "'' is not a port from 1 to 65535"},
        {"inet:0@127.0.0.1", "'0' is not a port from 1 to 65535"},
        {"inet:65536@127.0.0.1", "'65536' is not a port"},
        {"inet:99999999999999999999@127.0.0.1", "is not a port"},
        {"inet:+80@127.0.0.1", "'+80' is not a port"},
        {"inet:http@127.0.0.1", "'http' is not a port"},
        {"inet:9757", "no address after the port: write inet:9757@127.0.0.1 (this host only) or inet:9757@0.0.0.0"},
        {"inet:9757@", "no address after the port"},
        {"inet6:9757", "write inet6:9757@[::1] (this host only) or inet6:9757@[::]"},
        {"inet:9757@localhost", "'localhost' is not an IPv4 address (host names are not looked up): write inet:9757@127.0.0.1"},
        {"inet:9757@127.0.0.1:80", "'127.0.0.1:80' is not an IPv4 address"},
        {"inet:9757@::1", "inet takes an IPv4 address; for an IPv6 address write inet6:9757@[::1]"},
        {"inet:9757@[127.0.0.1]", "an IPv4 address takes no brackets: write inet:9757@127.0.0.1"},
        {"inet:9757@[::1]", "inet takes an IPv4 address; for an IPv6 address write inet6:9757@[::1]"},
        {"inet6:9757@127.0.0.1", "inet6 takes an IPv6 address; for 127.0.0.1 write inet:9757@127.0.0.1"},
        {"inet6:9757@[::ffff:127.0.0.1]", "inet6 takes an IPv6 address; for 127.0.0.1 write inet:9757@127.0.0.1"},
        {"inet6:9757@[fe80::1%eth0]", "is not an IPv6 address"},
        {"inet6:9757@[::1", "is not an IPv6 address"},
    };
    for (const Row& row : rows) {
        std::string why;
        const auto parsed = parse_metrics_address(row.text, why);
        INFO(row.text << ": got " << (parsed ? "accepted as " + parsed->to_string() : "refused: " + why)
                      << ", want a refusal with \"" << row.why << "\"");
        CHECK_FALSE(parsed);
        CHECK(why.find(row.why) != std::string::npos);
    }
}
