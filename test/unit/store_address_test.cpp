// Tests for policy/store_address: every form of limits-store the conf may hold, the reason for
// each bad one (with the password never quoted back), and the timeout and failure keys.
#include <catch2/catch.hpp>

#include "store_address.hpp"

using namespace relaymilter;
using Kind = StoreAddress::Kind;

TEST_CASE("limits-store: the forms it accepts, read into plain values", "[store_address]") {
    struct Row {
        const char* text;
        Kind kind;
        const char* host;
        uint16_t port;
        const char* path;
        int db;
        const char* user;
        const char* password;
        const char* display;
    };
    const Row rows[] = {
        {"memory", Kind::memory, "", 6379, "", 0, "", "", "memory"},
        {"redis://127.0.0.1", Kind::redis_tcp, "127.0.0.1", 6379, "", 0, "", "", "redis://127.0.0.1:6379"},
        {"redis://redis.example.net:6380", Kind::redis_tcp, "redis.example.net", 6380, "", 0, "", "", "redis://redis.example.net:6380"},
        {"redis://10.0.0.5:6379/2", Kind::redis_tcp, "10.0.0.5", 6379, "", 2, "", "", "redis://10.0.0.5:6379/2"},
        {"redis://10.0.0.5/", Kind::redis_tcp, "10.0.0.5", 6379, "", 0, "", "", "redis://10.0.0.5:6379"},
        {"redis://[::1]:7000/1", Kind::redis_tcp, "::1", 7000, "", 1, "", "", "redis://[::1]:7000/1"},
        {"redis://[2001:db8::5]", Kind::redis_tcp, "2001:db8::5", 6379, "", 0, "", "", "redis://[2001:db8::5]:6379"},
        {"redis://:s3cret@127.0.0.1:6379", Kind::redis_tcp, "127.0.0.1", 6379, "", 0, "", "s3cret", "redis://127.0.0.1:6379"},
        {"redis://relay:pw@h", Kind::redis_tcp, "h", 6379, "", 0, "relay", "pw", "redis://h:6379"},
        // A password may hold ':' and '@' as they are (the last '@' ends it) or %-encoded.
        {"redis://:a:b@c@h", Kind::redis_tcp, "h", 6379, "", 0, "", "a:b@c", "redis://h:6379"},
        {"redis://relay:p%40ss%25%2F@h:1", Kind::redis_tcp, "h", 1, "", 0, "relay", "p@ss%/", "redis://h:1"},
        {"redis+unix:///run/redis/redis.sock", Kind::redis_unix, "", 6379, "/run/redis/redis.sock", 0, "", "", "redis+unix:///run/redis/redis.sock"},
        {"redis+unix:///run/redis/redis.sock?db=3", Kind::redis_unix, "", 6379, "/run/redis/redis.sock", 3, "", "", "redis+unix:///run/redis/redis.sock?db=3"},
        {"redis+unix://relay:pw@/run/r.sock", Kind::redis_unix, "", 6379, "/run/r.sock", 0, "relay", "pw", "redis+unix:///run/r.sock"},
        {"redis+unix:///run/a@b/r.sock", Kind::redis_unix, "", 6379, "/run/a@b/r.sock", 0, "", "", "redis+unix:///run/a@b/r.sock"},
    };
    for (const Row& row : rows) {
        std::string why;
        auto address = parse_store_address(row.text, why);
        INFO(row.text << ": " << (address ? address->display() : "refused: " + why));
        REQUIRE(address);
        CHECK(address->kind == row.kind);
        CHECK(address->host == row.host);
        CHECK(address->port == row.port);
        CHECK(address->path == row.path);
        CHECK(address->db == row.db);
        CHECK(address->user == row.user);
        CHECK(address->password == row.password);
        CHECK(address->display() == row.display);
        CHECK(address->shared() == (row.kind != Kind::memory));
    }
}

TEST_CASE("limits-store: every bad value gets a reason, and never shows the password", "[store_address]") {
    struct Row {
        const char* text;
        const char* message;  // the start of the message, the quoted value included
    };
    const Row rows[] = {
        {"redis://h:99999", "limits-store: 'redis://h:99999': the port is a number from 1 to 65535"},
        {"redis://h:0", "limits-store: 'redis://h:0': the port is a number from 1 to 65535"},
        {"redis://h:", "limits-store: 'redis://h:': the port is a number from 1 to 65535"},
        {"redis://h:+80", "limits-store: 'redis://h:+80': the port is a number"},
        {"redis://h:6379/x", "limits-store: 'redis://h:6379/x': the database is a number"},
        {"redis://h/-1", "limits-store: 'redis://h/-1': the database is a number"},
        {"redis://h?db=2", "limits-store: 'redis://h?db=2': no options after the address"},
        {"redis://", "limits-store: 'redis://': no host"},
        {"redis://:6379", "limits-store: 'redis://:6379': no host"},
        {"redis://::1", "limits-store: 'redis://::1': write an IPv6 address in brackets"},
        {"redis://[::1", "limits-store: 'redis://[::1': an IPv6 address in brackets needs its ']'"},
        {"redis://[10.0.0.1]", "limits-store: 'redis://[10.0.0.1]': '10.0.0.1' in brackets is not an IPv6 address"},
        {"redis://[::1]x", "limits-store: 'redis://[::1]x': after ']' comes"},
        {"redis://h st", "limits-store: 'redis://h st': 'h st' is not a host name"},
        {"redis://:secret@h:99999", "limits-store: 'redis://:***@h:99999': the port"},
        {"redis://relay:secret@h:x", "limits-store: 'redis://relay:***@h:x': the port"},
        {"redis://secret@h", "limits-store: 'redis://***@h': the credentials before '@' are USER:PASSWORD or :PASSWORD"},
        {"redis://relay:@h", "limits-store: 'redis://relay:***@h': the password after ':' is empty"},
        {"redis://:pa%4@h", "limits-store: 'redis://:***@h': a '%' in the credentials starts %XX"},
        {"rediss://h:6380", "limits-store: 'rediss://h:6380': TLS to Redis is not supported"},
        {"Redis://h", "limits-store: 'Redis://h': write memory, redis://"},
        {"redis:h", "limits-store: 'redis:h': write memory, redis://"},
        {"unix:/run/redis.sock", "limits-store: 'unix:/run/redis.sock': write memory"},
        {"mem", "limits-store: 'mem': write memory"},
        {"redis+unix://run/r.sock", "limits-store: 'redis+unix://run/r.sock': the socket is an absolute path"},
        {"redis+unix:///", "limits-store: 'redis+unix:///': the socket is an absolute path"},
        {"redis+unix:///run/", "limits-store: 'redis+unix:///run/': the socket is an absolute path"},
        {"redis+unix:///run/r.sock?db=x", "limits-store: 'redis+unix:///run/r.sock?db=x': the database is a number"},
        {"redis+unix:///run/r.sock?timeout=1", "limits-store: 'redis+unix:///run/r.sock?timeout=1': the only option is ?db=N"},
        {"redis+unix://:pw@/run/r.sock?db=x", "limits-store: 'redis+unix://:***@/run/r.sock?db=x': the database"},
    };
    for (const Row& row : rows) {
        std::string why;
        auto address = parse_store_address(row.text, why);
        INFO(row.text << ": got " << (address ? "accepted as " + address->display() : "'" + why + "'") << ", want '"
                      << row.message << "...'");
        CHECK_FALSE(address);
        CHECK(why.starts_with(row.message));
        CHECK(why.find("secret") == std::string::npos);
    }
    std::string why;
    CHECK_FALSE(parse_store_address("redis+unix:///" + std::string(107, 'a'), why));
    CHECK(why.find("at most 107 bytes") != std::string::npos);
}

TEST_CASE("limits-store-timeout and limits-store-failure", "[store_address]") {
    struct Row {
        const char* text;
        Microseconds want;  // 0: refused
    };
    const Row rows[] = {
        {"100ms", 100'000}, {"1ms", 1000}, {"2s", 2 * kSecond}, {"10s", 10 * kSecond}, {"10000ms", 10 * kSecond},
        {"0ms", 0},         {"11s", 0},    {"100", 0},          {"1m", 0},             {"-5ms", 0},
        {"ms", 0},          {"1.5s", 0},   {"10001ms", 0},
    };
    for (const Row& row : rows) {
        std::string why;
        auto timeout = parse_store_timeout(row.text, why);
        INFO(row.text << ": got " << (timeout ? std::to_string(*timeout) + " us" : "refused: " + why));
        if (row.want) {
            REQUIRE(timeout);
            CHECK(*timeout == row.want);
        } else {
            CHECK_FALSE(timeout);
            CHECK(why.find("from 1ms to 10s") != std::string::npos);
        }
    }
    CHECK(store_timeout_text(kDefaultStoreTimeout) == "100ms");
    CHECK(store_timeout_text(2 * kSecond) == "2s");
    std::string why;
    CHECK(parse_store_failure("local", why) == StoreFailure::local);
    CHECK(parse_store_failure("tempfail", why) == StoreFailure::tempfail);
    CHECK_FALSE(parse_store_failure("fail-open", why));
    CHECK(why.find("write local") != std::string::npos);
    CHECK(std::string(store_failure_text(StoreFailure::tempfail)) == "tempfail");
}
