// redis_store: the login limits shared by every relaymilter pointed at one Redis (hiredis,
// blocking API). One server-side script per counted recipient checks, counts and tests the lock
// by Redis's clock; while Redis cannot be reached or used it answers from the failure mode.
// Not the decision (policy/) and not the conf (policy/store_address); see doc/fleet.md.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "conf.hpp"
#include "limit_store.hpp"
#include "store_address.hpp"

namespace relaymilter {

struct RedisStoreOptions {
    Microseconds timeout = kDefaultStoreTimeout;  // the longest a decision waits for Redis
    StoreFailure failure = StoreFailure::local;
    size_t idle_connections = 16;  // kept open between decisions; more are opened while busy
    // While Redis is down, one decision tries it again after retry_first, then after twice as
    // long each time, up to retry_most: never a connection attempt per recipient.
    Microseconds retry_first = 250'000;
    // Half a second: once Redis is back, shared counting resumes within about that (plus the
    // next decision); a down Redis costs each host two connection attempts a second.
    Microseconds retry_most = kSecond / 2;
    // Where the "down" and "back" lines go; log_line (milter/log.hpp) when empty.
    std::function<void(int priority, std::string_view line)> log;
    // Tests only: judge by each attempt's `now` instead of Redis's TIME (to compare the script
    // with the memory store on one fake clock). Never set by the daemon.
    bool attempt_clock = false;
};

// The options the conf's limits-store keys give (the failure mode as `failure` says, when set).
[[nodiscard]] RedisStoreOptions store_options(const DaemonOptions& conf, std::optional<StoreFailure> failure = std::nullopt);

// Whether a store at an address can work, as check() found it.
struct StoreCheck {
    enum class Result {
        usable,
        unreachable,  // no connection or no answer in time: a warning, the failure mode applies
        refused,      // Redis answered no (a wrong password, NOAUTH, no permission, no such DB)
    };
    Result result = Result::usable;
    std::string why;     // "redis://127.0.0.1:6379: AUTH: WRONGPASS invalid username-password pair ..."
    std::string reason;  // the same without the address, for messages that name the store already
};

class RedisStore final : public LimitStore {
public:
    // Connects lazily, at the first call: safe to construct before the daemon forks.
    explicit RedisStore(StoreAddress address, RedisStoreOptions options = {});
    ~RedisStore() override;
    RedisStore(const RedisStore&) = delete;
    RedisStore& operator=(const RedisStore&) = delete;

    // One EVALSHA by Redis's clock; the failure mode's answer when Redis does not give one in time.
    RelayCount relay(const RelayAttempt& attempt) override;
    // Only the fallback memory store's entries: Redis's keys carry their own TTLs.
    void expire(Microseconds now) override;
    // The login's use now, by Redis's clock; nullopt when Redis does not answer.
    std::optional<LoginUse> use(std::string_view login, const LoginLimits& limits, Microseconds now) override;
    // Lifts the shared lock (and forgets the login's client addresses) and any lock the fallback
    // store holds; false when there was none, or Redis could not be asked.
    bool unlock(std::string_view login) override;
    // For --unlock: whether there was a shared lock, or nullopt and why Redis could not be asked.
    [[nodiscard]] std::optional<bool> unlock_shared(std::string_view login, std::string& why);

    // Connects once (AUTH, SELECT, the scripts, one read) and says whether a store could work.
    [[nodiscard]] static StoreCheck check(const StoreAddress& address, Microseconds timeout = kDefaultStoreTimeout);

    // For metrics and logs.
    [[nodiscard]] bool up() const { return up_.load(std::memory_order_relaxed); }
    [[nodiscard]] uint64_t errors() const { return errors_.load(std::memory_order_relaxed); }  // failed round trips
    [[nodiscard]] uint64_t fallbacks() const { return fallbacks_.load(std::memory_order_relaxed); }  // decisions the failure mode answered
    [[nodiscard]] std::string last_error() const;
    [[nodiscard]] const StoreAddress& address() const { return address_; }

    // "relaymilter:{HASH}:" where HASH is the login's login_id() (FNV-1a 64 of it in lower case),
    // in hex: every key of the login starts so (":login" the buckets and the lock, ":clients" the
    // addresses).
    [[nodiscard]] static std::string key_prefix(std::string_view login);
    [[nodiscard]] static std::string key_prefix(uint64_t login_id);

    struct Connection;
    struct Failure;

private:
    enum class Script { relay, use, unlock };
    struct Reply;
    using Clock = std::chrono::steady_clock;

    RelayCount fall_back(const RelayAttempt& attempt);
    bool may_try();  // up, or this caller's turn to try a down Redis again
    std::optional<Reply> call(Script script, const std::vector<std::string>& args, Clock::time_point deadline);
    std::unique_ptr<Connection> take();
    void give_back(std::unique_ptr<Connection> connection);
    void failed(const Failure& failure, uint64_t generation);
    void succeeded(uint64_t generation);

    const StoreAddress address_;
    const RedisStoreOptions options_;
    const std::string display_;
    MemoryStore local_;

    mutable std::mutex pool_mutex_;  // guards idle_ only: never held across a round trip
    std::vector<std::unique_ptr<Connection>> idle_;

    std::atomic<bool> up_{true};
    std::atomic<uint64_t> generation_{0};  // bumped when Redis goes down: older connections are dropped
    std::atomic<int64_t> retry_at_{0};     // steady-clock microseconds
    std::atomic<int64_t> backoff_{0};
    std::atomic<uint64_t> errors_{0};
    std::atomic<uint64_t> fallbacks_{0};
    mutable std::mutex error_mutex_;
    std::string last_error_;
};

}  // namespace relaymilter
