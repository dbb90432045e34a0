// Tests for milter/redis_store against a real redis-server (run by test/e2e/redis_store_test.sh):
// the script gives the memory store's answers, counts exactly under 200 threads on one and on two
// hosts, shares locks, keeps TTLs on every key, AUTH (requirepass, ACL users), sockets and DBs.
// Failures (Redis killed, stalled, absent) are in redis_failure_test.cpp.
#include <atomic>
#include <random>
#include <regex>

#include "redis_test_lib.hpp"

using namespace redis_test;
using Outcome = RelayCount::Outcome;

namespace {

Outcome relay(LimitStore& store, const LoginLimits& limits, const char* from = "192.0.2.1", bool new_message = false,
              std::string_view login = "alice@example.com", Microseconds now = 0) {
    return store.relay(RelayAttempt{login, limits, client(from), new_message, now, 3600}).outcome;
}

// `threads` threads on each store relay `each` recipients of one login at once; how many were allowed
// and how many got anything but allowed or recipient_limit.
std::pair<int, int> hammer(const std::vector<RedisStore*>& stores, int threads, int each, const LoginLimits& limits) {
    std::atomic<int> allowed{0}, other{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> running;
    for (RedisStore* store : stores) {
        for (int t = 0; t < threads; ++t) {
            running.emplace_back([&, store] {
                while (!go.load()) std::this_thread::yield();
                for (int i = 0; i < each; ++i) {
                    const Outcome o = relay(*store, limits, "192.0.2.1", false, "hammer@example.com");
                    allowed += o == Outcome::allowed;
                    other += o != Outcome::allowed && o != Outcome::recipient_limit;
                }
            });
        }
    }
    go = true;
    for (auto& t : running) t.join();
    return {allowed.load(), other.load()};
}

}  // namespace

TEST_CASE("Redis store: a burst of exactly N, then refused; use() shows it", "[redis]") {
    Admin admin(env_port("RELAYMILTER_REDIS_PORT"));
    admin.command({"FLUSHALL"});
    Lines lines;
    RedisStore store(main_redis(), steady_options(lines));
    LoginLimits limits;
    limits.recipients = Rate{10, 3600};
    limits.messages = Rate{3, 3600};
    for (int i = 0; i < 10; ++i) CHECK(relay(store, limits, "192.0.2.1", i < 3) == Outcome::allowed);
    CHECK(relay(store, limits) == Outcome::recipient_limit);
    CHECK(relay(store, limits) == Outcome::recipient_limit);
    auto use = store.use("alice@example.com", limits, 0);
    REQUIRE(use);
    CHECK(use->recipients == Approx(10).margin(0.05));  // drains 10/h: 0.003 a second
    CHECK(use->messages == Approx(3).margin(0.05));
    CHECK(use->locked_until == 0);
    CHECK(store.up());
    CHECK(store.errors() == 0);
    CHECK(store.fallbacks() == 0);
    CHECK(lines.all().empty());
    // A new message past the message limit, with recipients to spare.
    LoginLimits messages;
    messages.messages = Rate{3, 3600};
    CHECK(relay(store, messages, "192.0.2.1", true) == Outcome::message_limit);
    CHECK(relay(store, messages, "192.0.2.1", false) == Outcome::allowed);
}

TEST_CASE("Redis store: 200 threads, a limit of 50: exactly 50, on one host and on two", "[redis][concurrency]") {
    Admin admin(env_port("RELAYMILTER_REDIS_PORT"));
    Lines lines;
    LoginLimits limits;
    limits.recipients = Rate{50, 3600};
    SECTION("one store, 200 threads") {
        admin.command({"FLUSHALL"});
        RedisStore store(main_redis(), steady_options(lines));
        auto [allowed, other] = hammer({&store}, 200, 3, limits);
        CHECK(allowed == 50);
        CHECK(other == 0);
        CHECK(store.fallbacks() == 0);
    }
    SECTION("two stores (two hosts), 100 threads each") {
        admin.command({"FLUSHALL"});
        RedisStore host_a(main_redis(), steady_options(lines));
        RedisStore host_b(main_redis(), steady_options(lines));
        auto [allowed, other] = hammer({&host_a, &host_b}, 100, 3, limits);
        CHECK(allowed == 50);
        CHECK(other == 0);
        CHECK(host_a.fallbacks() + host_b.fallbacks() == 0);
    }
    CHECK(lines.all().empty());
}

TEST_CASE("Redis store: a lock made through one host holds on the other; unlock lifts it for both", "[redis]") {
    Admin admin(env_port("RELAYMILTER_REDIS_PORT"));
    admin.command({"FLUSHALL"});
    Lines lines;
    RedisStore host_a(main_redis(), steady_options(lines));
    RedisStore host_b(main_redis(), steady_options(lines));
    LoginLimits limits;
    limits.clients = Rate{2, 3600};
    CHECK(relay(host_a, limits, "192.0.2.1") == Outcome::allowed);
    CHECK(relay(host_b, limits, "2001:db8:1:2::1") == Outcome::allowed);
    CHECK(relay(host_a, limits, "2001:db8:1:2::ffff") == Outcome::allowed);  // the same /64
    CHECK(relay(host_b, limits, "192.0.2.1") == Outcome::allowed);           // seen before, on the other host
    const RelayCount lock = host_a.relay(RelayAttempt{"alice@example.com", limits, client("203.0.113.9"), false, 0, 600});
    CHECK(lock.outcome == Outcome::locked_now);
    CHECK(lock.clients == 3);
    // Redis's clock: the lock ends 600 s after now, as Redis sees it.
    const long long redis_now = std::stoll(admin.command({"TIME"})->element[0]->str) * kSecond;
    CHECK(lock.locked_until > redis_now + 590 * kSecond);
    CHECK(lock.locked_until < redis_now + 610 * kSecond);
    const RelayCount held = host_b.relay(RelayAttempt{"alice@example.com", limits, client("192.0.2.1"), false, 0, 600});
    CHECK(held.outcome == Outcome::locked);
    CHECK(held.locked_until == lock.locked_until);
    CHECK(relay(host_a, LoginLimits{}, "192.0.2.1") == Outcome::locked);  // whatever the limits now
    auto use = host_b.use("alice@example.com", limits, 0);
    REQUIRE(use);
    CHECK(use->locked_until == lock.locked_until);
    CHECK(use->clients == 2);
    CHECK(relay(host_a, limits, "192.0.2.1", false, "bob@example.com") == Outcome::allowed);  // others unaffected

    std::string why;
    CHECK(host_b.unlock_shared("alice@example.com", why) == std::optional<bool>(true));
    CHECK(host_a.unlock_shared("alice@example.com", why) == std::optional<bool>(false));
    CHECK_FALSE(host_a.unlock("alice@example.com"));
    // The client addresses went with the lock: two new ones are allowed on either host.
    CHECK(relay(host_a, limits, "198.51.100.1") == Outcome::allowed);
    CHECK(relay(host_b, limits, "198.51.100.2") == Outcome::allowed);
    CHECK(relay(host_b, limits, "198.51.100.3") == Outcome::locked_now);
    CHECK(host_a.unlock("alice@example.com"));
    CHECK(lines.all().empty());
}

TEST_CASE("Redis store: the script gives the memory store's answers on one clock", "[redis][differential]") {
    Admin admin(env_port("RELAYMILTER_REDIS_PORT"));
    admin.command({"FLUSHALL"});
    Lines lines;
    RedisStoreOptions options = steady_options(lines);
    options.attempt_clock = true;
    RedisStore redis(main_redis(), options);
    MemoryStore memory;
    // The keys' TTLs are durations on the fake clock that run out in real time. A recipient limit
    // on every attempt (of 2 and more, 10 minutes and longer) makes each counted attempt set a TTL
    // of 5 minutes or more, so no key expires during the test: the memory store never expires either.
    const std::optional<Rate> rates[] = {std::nullopt, Rate{2, 600}, Rate{5, 3600}, Rate{3, 86400}, Rate{7, 31622400}};
    const char* clients[] = {"192.0.2.1", "192.0.2.2", "198.51.100.7", "2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:9::1", ""};
    const char* logins[] = {"a@example.com", "b@example.com", "c@example.org"};
    std::mt19937_64 rng(GENERATE(1u, 2u, 3u));
    Microseconds now = 1'800'000'000 * kSecond;
    int compared = 0, allowed = 0, refused = 0, locks = 0;
    for (int step = 0; step < 1500; ++step) {
        // Mostly small steps (bursts, the same microsecond), sometimes minutes or days.
        const uint64_t pick = rng() % 10;
        now += pick < 4 ? 0 : pick < 8 ? static_cast<Microseconds>(rng() % (120 * kSecond)) : static_cast<Microseconds>(rng() % (2 * 86400 * kSecond));
        LoginLimits limits;
        limits.recipients = rates[1 + rng() % 3];  // a login's limits change now and then, as on a reload
        limits.messages = rates[rng() % 5];
        limits.clients = rng() % 3 ? rates[1 + rng() % 3] : std::nullopt;
        const char* from = clients[rng() % 7];
        const RelayAttempt attempt{logins[rng() % 3], limits, from[0] ? client(from) : ClientKey{}, rng() % 3 == 0, now,
                                   rng() % 2 ? 60u : 3600u};
        const RelayCount want = memory.relay(attempt);
        const RelayCount got = redis.relay(attempt);
        INFO("seed step " << step << " login " << attempt.login << " from '" << from << "' limits " << limits.text());
        REQUIRE(static_cast<int>(got.outcome) == static_cast<int>(want.outcome));
        REQUIRE(got.clients == want.clients);
        REQUIRE(got.locked_until == want.locked_until);
        allowed += want.outcome == Outcome::allowed;
        refused += want.outcome == Outcome::recipient_limit || want.outcome == Outcome::message_limit;
        locks += want.outcome == Outcome::locked_now;
        if (step % 10 == 0) {
            auto u_want = memory.use(attempt.login, limits, now);
            auto u_got = redis.use(attempt.login, limits, now);
            REQUIRE(u_got);
            CHECK(u_got->recipients == u_want->recipients);  // the same millionths
            CHECK(u_got->messages == u_want->messages);
            CHECK(u_got->locked_until == u_want->locked_until);
            ++compared;
        }
    }
    // The sequence reached every outcome, or it proved little.
    CHECK(allowed > 100);
    CHECK(refused > 20);
    CHECK(locks > 5);
    CHECK(compared == 150);
    CHECK(redis.fallbacks() == 0);
}

TEST_CASE("Redis store: every key carries a TTL, and DBSIZE returns to 0 once the periods pass", "[redis][ttl]") {
    Admin admin(env_port("RELAYMILTER_REDIS_PORT"));
    admin.command({"FLUSHALL"});
    Lines lines;
    RedisStore store(main_redis(), steady_options(lines));
    LoginLimits limits;
    limits.recipients = Rate{5, 2};
    limits.messages = Rate{3, 3};
    limits.clients = Rate{2, 3};
    const char* from[] = {"192.0.2.1", "192.0.2.2", "2001:db8::1"};
    int locked = 0;
    for (int l = 0; l < 20; ++l) {
        const std::string login = "user" + std::to_string(l) + "@example.com";
        for (int i = 0; i < 8; ++i) {
            const auto r = store.relay(RelayAttempt{login, limits, client(from[l == 0 ? i % 3 : 0]), i % 2 == 0, 0, 3});
            locked += r.outcome == Outcome::locked_now;
        }
    }
    CHECK(locked == 1);  // user0 came from a third address
    const std::vector<std::string> keys = admin.keys();
    CHECK(keys.size() == 40);  // per login: the buckets and lock, the clients
    const std::regex layout(R"(relaymilter:\{[0-9a-f]{16}\}:(login|clients))");
    for (const std::string& key : keys) {
        INFO(key);
        CHECK(std::regex_match(key, layout));
        const long long ttl = admin.integer({"PTTL", key});
        CHECK(ttl > 0);
        CHECK(ttl <= 3002);  // the longest period and the lock here are 3 s
    }
    CHECK(admin.integer({"DBSIZE"}) == 40);
    // Both keys of one login share the hash tag (Cluster hashes only what is inside the first {}),
    // so one slot: the scripts' keys are always on one node.
    const std::string prefix = RedisStore::key_prefix("user0@example.com");
    auto tag = [](const std::string& key) { return key.substr(key.find('{'), key.find('}') - key.find('{') + 1); };
    CHECK(tag(prefix + "login") == tag(prefix + "clients"));
    CHECK(tag(prefix + "login") != tag(RedisStore::key_prefix("user1@example.com") + "login"));
    CHECK(admin.text({"HGET", prefix + "login", "login"}) == "user0@example.com");
    const double waited = wait_until([&] { return admin.integer({"DBSIZE"}) == 0; }, 20);
    CHECK(waited >= 0);
    WARN("DBSIZE back to 0 after " << waited << " s (longest TTL set: 3 s)");
}

TEST_CASE("Redis store: requirepass and ACL users; a wrong password is a clear error from check()", "[redis][auth]") {
    Lines lines;
    LoginLimits limits;
    limits.recipients = Rate{2, 3600};
    const int auth = env_port("RELAYMILTER_REDIS_AUTH_PORT");
    const int acl = env_port("RELAYMILTER_REDIS_ACL_PORT");
    Admin(auth, "requirepass-secret").command({"FLUSHALL"});
    Admin(acl, "admin-secret").command({"FLUSHALL"});

    struct Row {
        const char* label;
        StoreAddress address;
        StoreCheck::Result want;
        const char* why;  // part of check()'s reason
    };
    const Row rows[] = {
        {"requirepass, right", tcp(auth, "requirepass-secret"), StoreCheck::Result::usable, ""},
        {"requirepass, wrong", tcp(auth, "wrong"), StoreCheck::Result::refused, "AUTH: WRONGPASS"},
        {"requirepass, none given", tcp(auth), StoreCheck::Result::refused, "NOAUTH Authentication required. (limits-store gives no password"},
        {"ACL user, right", tcp(acl, "relay-secret", "relay"), StoreCheck::Result::usable, ""},
        {"ACL user with only the commands the store uses", tcp(acl, "minimal-secret", "minimal"), StoreCheck::Result::usable, ""},
        {"ACL user, wrong", tcp(acl, "wrong", "relay"), StoreCheck::Result::refused, "AUTH: WRONGPASS"},
        {"ACL user, unknown", tcp(acl, "relay-secret", "nobody"), StoreCheck::Result::refused, "AUTH: WRONGPASS"},
        {"ACL user without the keys", tcp(acl, "nokeys-secret", "nokeys"), StoreCheck::Result::refused, "NOPERM"},
        {"password where none is set", tcp(env_port("RELAYMILTER_REDIS_PORT"), "extra"), StoreCheck::Result::refused, "AUTH: ERR AUTH"},
        {"no Redis there", tcp(env_port("RELAYMILTER_REDIS_DEAD_PORT")), StoreCheck::Result::unreachable, "Connection refused"},
        {"a database that is not there", tcp(env_port("RELAYMILTER_REDIS_PORT"), "", "", 99), StoreCheck::Result::refused, "SELECT 99: ERR DB index is out of range"},
    };
    for (const Row& row : rows) {
        const StoreCheck check = RedisStore::check(row.address, 5 * kSecond);
        INFO(row.label << ": got " << static_cast<int>(check.result) << " '" << check.why << "', want "
                       << static_cast<int>(row.want) << " '..." << row.why << "...'");
        CHECK(check.result == row.want);
        CHECK(check.why.find(row.why) != std::string::npos);
        if (row.want != StoreCheck::Result::usable) CHECK(check.why.starts_with(row.address.display() + ": "));
        CHECK(check.why.find("secret") == std::string::npos);
        // The store itself: counts in Redis when check() says usable, falls back otherwise.
        RedisStore store(row.address, steady_options(lines));
        const Outcome first = relay(store, limits);
        CHECK((first == Outcome::allowed) == (row.want == StoreCheck::Result::usable));
        CHECK(store.up() == (row.want == StoreCheck::Result::usable));
    }
    // The ACL users' stores counted in Redis, under relaymilter's keys.
    Admin admin(acl, "admin-secret");
    CHECK(admin.integer({"DBSIZE"}) == 1);
    // Everything the minimal user may need: a lock, use, unlock.
    RedisStore minimal(tcp(acl, "minimal-secret", "minimal"), steady_options(lines));
    LoginLimits one_client;
    one_client.clients = Rate{1, 3600};
    CHECK(relay(minimal, one_client, "192.0.2.1", false, "m@example.com") == Outcome::allowed);
    CHECK(relay(minimal, one_client, "192.0.2.2", false, "m@example.com") == Outcome::locked_now);
    REQUIRE(minimal.use("m@example.com", one_client, 0));
    CHECK(minimal.use("m@example.com", one_client, 0)->locked_until > 0);
    CHECK(minimal.unlock("m@example.com"));
    CHECK(minimal.errors() == 0);
    CHECK(lines.count("down (AUTH: WRONGPASS invalid username-password pair or user is disabled.); authenticated relays get tempfail") == 3);
    CHECK(lines.count("back") == 0);
}

TEST_CASE("Redis store: a Unix socket, a database number, and a flushed script cache", "[redis]") {
    Lines lines;
    LoginLimits limits;
    limits.recipients = Rate{2, 3600};
    Admin admin(env_port("RELAYMILTER_REDIS_PORT"));
    admin.command({"FLUSHALL"});
    std::string why;
    auto address = parse_store_address("redis+unix://" + env("RELAYMILTER_REDIS_SOCKET") + "?db=3", why);
    REQUIRE(address);
    CHECK(RedisStore::check(*address, 5 * kSecond).result == StoreCheck::Result::usable);
    RedisStore unix_store(*address, steady_options(lines));
    CHECK(relay(unix_store, limits) == Outcome::allowed);
    RedisStore tcp_store(tcp(env_port("RELAYMILTER_REDIS_PORT"), "", "", 3), steady_options(lines));
    CHECK(relay(tcp_store, limits) == Outcome::allowed);
    CHECK(relay(unix_store, limits) == Outcome::recipient_limit);  // one budget through both
    CHECK(admin.integer({"DBSIZE"}) == 0);                        // database 0 untouched
    admin.command({"SELECT", "3"});
    CHECK(admin.integer({"DBSIZE"}) == 1);

    // SCRIPT FLUSH (or a failover to a Redis without the scripts): NOSCRIPT, loaded again, no failure.
    CHECK(admin.text({"SCRIPT", "FLUSH"}) == "OK");
    CHECK(relay(tcp_store, limits, "192.0.2.1", false, "bob@example.com") == Outcome::allowed);
    CHECK(tcp_store.up());
    CHECK(tcp_store.errors() == 0);
    CHECK(unix_store.errors() == 0);
    CHECK(lines.all().empty());
}

TEST_CASE("Redis store: memory per tracked login in Redis", "[redis][memory]") {
    Admin admin(env_port("RELAYMILTER_REDIS_PORT"));
    admin.command({"FLUSHALL"});
    auto used_memory = [&] {
        const std::string info = admin.text({"INFO", "memory"});
        const auto at = info.find("used_memory:");
        REQUIRE(at != std::string::npos);
        return std::stoll(info.substr(at + 12));
    };
    Lines lines;
    RedisStore store(main_redis(), steady_options(lines));
    // All three limits, per day: the keys outlive the test even on a slow machine (a bucket
    // holding one recipient of 500/1h is empty, and its key gone, after 7.2 s).
    LoginLimits limits;
    limits.recipients = Rate{500, 86400};
    limits.messages = Rate{100, 86400};
    limits.clients = Rate{10, 86400};
    const int logins = 10000;
    const long long before = used_memory();
    for (int i = 0; i < logins; ++i) {
        const std::string login = "user" + std::to_string(i) + "@example.com";
        REQUIRE(store.relay(RelayAttempt{login, limits, client("192.0.2.1"), true, 0, 3600}).outcome == Outcome::allowed);
    }
    const long long one_client = used_memory();
    CHECK(admin.integer({"DBSIZE"}) == 2 * logins);
    // Four more client addresses for each login.
    const char* more[] = {"192.0.2.2", "198.51.100.3", "2001:db8:1:2::1", "2001:db8:ffff:1::1"};
    for (int i = 0; i < logins; ++i) {
        const std::string login = "user" + std::to_string(i) + "@example.com";
        for (const char* from : more) REQUIRE(relay(store, limits, from, false, login) == Outcome::allowed);
    }
    const long long five_clients = used_memory();
    CHECK(admin.integer({"DBSIZE"}) == 2 * logins);
    const std::string prefix = RedisStore::key_prefix("user" + std::to_string(logins - 1) + "@example.com");
    const long long hash_bytes = admin.integer({"MEMORY", "USAGE", prefix + "login"});
    const long long set_bytes = admin.integer({"MEMORY", "USAGE", prefix + "clients"});
    WARN("Redis memory per tracked login (" << logins << " logins, recipient, message and client limits on): "
         << (one_client - before) / logins << " bytes with one client address (INFO used_memory), "
         << (five_clients - one_client) / (4 * logins) << " bytes per further address; MEMORY USAGE of one login "
         << "with five addresses: hash " << hash_bytes << " + clients " << set_bytes << " bytes");
    CHECK(one_client > before);
}
