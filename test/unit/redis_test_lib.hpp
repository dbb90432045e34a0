// redis_test_lib: what the Redis store's tests share: the instances test/e2e/redis_store_test.sh
// started (ports by environment), a plain hiredis connection for the tests' own commands
// (FLUSHALL, DBSIZE, CLIENT PAUSE), the log lines a store writes, and bounded waits.
#pragma once

#include <catch2/catch.hpp>
#include <hiredis.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "redis_store.hpp"

namespace redis_test {

using namespace relaymilter;

// A variable the wrapper sets; the test cannot run without it.
inline std::string env(const char* name) {
    const char* value = std::getenv(name);
    if (!value || !*value) FAIL(name << " is not set: run this through test/e2e/redis_store_test.sh");
    return value;
}
inline int env_port(const char* name) { return std::stoi(env(name)); }

inline StoreAddress tcp(int port, std::string password = "", std::string user = "", int db = 0) {
    StoreAddress a;
    a.kind = StoreAddress::Kind::redis_tcp;
    a.host = "127.0.0.1";
    a.port = static_cast<uint16_t>(port);
    a.password = std::move(password);
    a.user = std::move(user);
    a.db = db;
    return a;
}
inline StoreAddress main_redis() { return tcp(env_port("RELAYMILTER_REDIS_PORT")); }

struct ReplyFree {
    void operator()(redisReply* r) const { freeReplyObject(r); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyFree>;

// The tests' own connection, for what the store never does.
class Admin {
public:
    explicit Admin(int port, const std::string& password = "") {
        context_ = redisConnectWithTimeout("127.0.0.1", port, timeval{10, 0});
        REQUIRE(context_);
        REQUIRE(context_->err == 0);
        redisSetTimeout(context_, timeval{30, 0});
        if (!password.empty()) CHECK(text({"AUTH", password}) == "OK");
    }
    ~Admin() { redisFree(context_); }
    Admin(const Admin&) = delete;
    Admin& operator=(const Admin&) = delete;

    ReplyPtr command(const std::vector<std::string>& args) {
        std::vector<const char*> argv;
        std::vector<size_t> lengths;
        for (const std::string& a : args) {
            argv.push_back(a.data());
            lengths.push_back(a.size());
        }
        ReplyPtr reply(static_cast<redisReply*>(
            redisCommandArgv(context_, static_cast<int>(args.size()), argv.data(), lengths.data())));
        REQUIRE(reply);
        return reply;
    }
    long long integer(const std::vector<std::string>& args) {
        ReplyPtr r = command(args);
        INFO(args[0] << ": " << (r->str ? r->str : ""));
        REQUIRE(r->type == REDIS_REPLY_INTEGER);
        return r->integer;
    }
    std::string text(const std::vector<std::string>& args) {
        ReplyPtr r = command(args);
        return r->str ? std::string(r->str, r->len) : "";
    }
    // Every key relaymilter wrote, by SCAN.
    std::vector<std::string> keys() {
        std::vector<std::string> out;
        std::string cursor = "0";
        do {
            ReplyPtr r = command({"SCAN", cursor, "MATCH", "relaymilter:*", "COUNT", "1000"});
            REQUIRE(r->type == REDIS_REPLY_ARRAY);
            cursor = std::string(r->element[0]->str, r->element[0]->len);
            for (size_t i = 0; i < r->element[1]->elements; ++i) {
                out.emplace_back(r->element[1]->element[i]->str, r->element[1]->element[i]->len);
            }
        } while (cursor != "0");
        return out;
    }

private:
    redisContext* context_ = nullptr;
};

// The lines a store logs, kept for counting.
class Lines {
public:
    std::function<void(int, std::string_view)> sink() {
        return [this](int, std::string_view line) {
            std::lock_guard lock(mutex_);
            lines_.emplace_back(line);
        };
    }
    int count(std::string_view part) const {
        std::lock_guard lock(mutex_);
        int n = 0;
        for (const std::string& l : lines_) n += l.find(part) != std::string::npos;
        return n;
    }
    std::string all() const {
        std::lock_guard lock(mutex_);
        std::string out;
        for (const std::string& l : lines_) out += l + "\n";
        return out;
    }

private:
    mutable std::mutex mutex_;
    std::vector<std::string> lines_;
};

// A store for the correctness tests: a timeout no busy machine reaches (a fallback there would
// hide a wrong count) and tempfail, so that any decision Redis did not make shows.
inline RedisStoreOptions steady_options(Lines& lines, StoreFailure failure = StoreFailure::tempfail,
                                        Microseconds timeout = 5 * kSecond) {
    RedisStoreOptions o;
    o.timeout = timeout;
    o.failure = failure;
    o.log = lines.sink();
    return o;
}

// Polls `done` every 20 ms until it holds or `seconds` pass; how long it took, or -1.
inline double wait_until(const std::function<bool()>& done, double seconds) {
    const auto start = std::chrono::steady_clock::now();
    for (;;) {
        if (done()) return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (std::chrono::steady_clock::now() - start > std::chrono::duration<double>(seconds)) return -1;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

inline ClientKey client(const char* address) { return ClientKey::of(IpAddress::parse(address)); }

}  // namespace redis_test
