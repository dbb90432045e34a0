// redis_store: connections (a pool, taken and given back under a short lock, never held across a
// round trip), the deadline each call keeps, the scripts (loaded with SCRIPT LOAD when a
// connection opens, again on NOSCRIPT) and the up/down state with its two log lines.
#include "redis_store.hpp"

#include <hiredis.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <charconv>
#include <cstring>

#include "log.hpp"
#include "redis_scripts.hpp"

namespace relaymilter {

namespace {

using Clock = std::chrono::steady_clock;

int64_t steady_us() {
    return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch()).count();
}

struct ReplyFree {
    void operator()(redisReply* reply) const { freeReplyObject(reply); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyFree>;

const std::string& script_text(int index) {
    static const std::string texts[] = {std::string(redis_scripts::kCommon) + redis_scripts::kRelay,
                                        std::string(redis_scripts::kCommon) + redis_scripts::kUse,
                                        std::string(redis_scripts::kCommon) + redis_scripts::kUnlock};
    return texts[index];
}
constexpr int kScripts = 3;

// Error replies that say "not now" rather than "never": check() calls them unreachable.
bool transient(std::string_view error) {
    for (std::string_view code : {"LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN"}) {
        if (error.starts_with(code)) return true;
    }
    return false;
}

std::string number(int64_t value) {
    char buffer[24];
    auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
    return std::string(buffer, end);
}

// One command in Redis's protocol (RESP): binary-safe, whatever the login holds.
void append_command(std::string& out, const std::vector<std::string_view>& args) {
    out += '*' + number(static_cast<int64_t>(args.size())) + "\r\n";
    for (std::string_view arg : args) {
        out += '$' + number(static_cast<int64_t>(arg.size())) + "\r\n";
        out.append(arg);
        out += "\r\n";
    }
}

// The client as its sorted-set member: "192.0.2.1", or "2001:db8:1:2::/64".
std::string client_member(const ClientKey& client) {
    if (!client.known) return "";
    const IpAddress address = IpAddress::from_bits((static_cast<uint128>(client.high) << 64) | client.low);
    return address.is_v4() ? address.to_string() : address.to_string() + "/64";
}

}  // namespace

// A failed step: the reason for the log, and whether Redis answered with an error (rather than
// not at all).
struct RedisStore::Failure {
    std::string reason;
    bool answered = false;
};

struct RedisStore::Reply {
    ReplyPtr reply;
};

struct RedisStore::Connection {
    redisContext* context = nullptr;
    uint64_t generation = 0;
    Microseconds armed = 0;  // the receive timeout set on the socket now
    std::string sha[kScripts];
    ~Connection() {
        if (context) redisFree(context);
    }

    // Sets the receive timeout to what is left before `deadline`; false when nothing is left.
    bool arm(Clock::time_point deadline, Failure& failure, Microseconds timeout) {
        const auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - Clock::now()).count();
        if (left < 100) {
            failure = {"no answer within " + store_timeout_text(timeout), false};
            return false;
        }
        if (armed > 0 && std::abs(armed - left) <= 1000) return true;  // within 1 ms: no system call
        timeval tv{static_cast<time_t>(left / kSecond), static_cast<suseconds_t>(left % kSecond)};
        if (setsockopt(context->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0) {
            failure = {std::string("setsockopt: ") + std::strerror(errno), false};
            return false;
        }
        armed = left;
        return true;
    }

    // Sends the commands in one write and reads one reply to each, all before the deadline.
    // Error replies are replies; a failure is no answer, a lost connection or a bad reply.
    bool exchange(const std::string& commands, size_t count, std::vector<ReplyPtr>& replies,
                  Clock::time_point deadline, Microseconds timeout, Failure& failure) {
        size_t sent = 0;
        while (sent < commands.size()) {
            const ssize_t n = ::send(context->fd, commands.data() + sent, commands.size() - sent, MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) {
                failure = {errno == EAGAIN ? "no answer within " + store_timeout_text(timeout) : std::strerror(errno), false};
                return false;
            }
            sent += static_cast<size_t>(n);
        }
        replies.clear();
        for (size_t i = 0; i < count; ++i) {
            if (!arm(deadline, failure, timeout)) return false;
            void* reply = nullptr;
            errno = 0;
            if (redisGetReply(context, &reply) != REDIS_OK || !reply) {
                const bool timed_out = errno == EAGAIN || errno == EWOULDBLOCK;
                failure = {timed_out ? "no answer within " + store_timeout_text(timeout)
                                     : std::string(context->errstr[0] ? context->errstr : "no reply"),
                           false};
                return false;
            }
            replies.emplace_back(static_cast<redisReply*>(reply));
        }
        return true;
    }
};

namespace {

// The first error reply among `replies`, prefixed with what was asked, or nullopt.
std::optional<std::string> first_error(const std::vector<ReplyPtr>& replies, const std::vector<std::string>& asked) {
    for (size_t i = 0; i < replies.size(); ++i) {
        if (replies[i]->type == REDIS_REPLY_ERROR) {
            return (asked[i].empty() ? "" : asked[i] + ": ") + std::string(replies[i]->str, replies[i]->len);
        }
    }
    return std::nullopt;
}

// Opens a connection and readies it: AUTH, SELECT, the scripts loaded; one pipelined round
// trip after the connect, all before the deadline.
std::unique_ptr<RedisStore::Connection> open_connection(const StoreAddress& address, Microseconds timeout,
                                                         Clock::time_point deadline, RedisStore::Failure& failure) {
    const auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - Clock::now()).count();
    if (left < 100) {
        failure = {"no answer within " + store_timeout_text(timeout), false};
        return nullptr;
    }
    const timeval tv{static_cast<time_t>(left / kSecond), static_cast<suseconds_t>(left % kSecond)};
    auto connection = std::make_unique<RedisStore::Connection>();
    connection->context = address.kind == StoreAddress::Kind::redis_unix
                              ? redisConnectUnixWithTimeout(address.path.c_str(), tv)
                              : redisConnectWithTimeout(address.host.c_str(), address.port, tv);
    if (!connection->context || connection->context->err) {
        failure = {connection->context ? connection->context->errstr : "out of memory", false};
        return nullptr;
    }
    const timeval full{static_cast<time_t>(timeout / kSecond), static_cast<suseconds_t>(timeout % kSecond)};
    setsockopt(connection->context->fd, SOL_SOCKET, SO_SNDTIMEO, &full, sizeof full);

    std::string commands;
    std::vector<std::string> asked;
    if (!address.password.empty()) {
        if (address.user.empty()) {
            append_command(commands, {"AUTH", address.password});
        } else {
            append_command(commands, {"AUTH", address.user, address.password});
        }
        asked.push_back("AUTH");
    }
    if (address.db != 0) {
        append_command(commands, {"SELECT", number(address.db)});
        asked.push_back("SELECT " + number(address.db));
    }
    for (int i = 0; i < kScripts; ++i) {
        append_command(commands, {"SCRIPT", "LOAD", script_text(i)});
        asked.push_back("");
    }
    std::vector<ReplyPtr> replies;
    if (!connection->exchange(commands, asked.size(), replies, deadline, timeout, failure)) return nullptr;
    if (auto error = first_error(replies, asked)) {
        failure = {*error, true};
        if (error->starts_with("NOAUTH") && address.password.empty()) {
            failure.reason += " (limits-store gives no password: write redis://:PASSWORD@HOST or redis://USER:PASSWORD@HOST)";
        }
        return nullptr;
    }
    for (int i = 0; i < kScripts; ++i) {
        const redisReply* sha = replies[replies.size() - kScripts + static_cast<size_t>(i)].get();
        if (sha->type != REDIS_REPLY_STRING) {
            failure = {"SCRIPT LOAD: not a script's SHA1", true};
            return nullptr;
        }
        connection->sha[i] = std::string(sha->str, sha->len);
    }
    return connection;
}

}  // namespace

std::string RedisStore::key_prefix(std::string_view login) { return key_prefix(login_id(login)); }

std::string RedisStore::key_prefix(uint64_t hash) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string prefix = "relaymilter:{";
    for (int shift = 60; shift >= 0; shift -= 4) prefix += kHex[(hash >> shift) & 0xf];
    prefix += "}:";
    return prefix;
}

RedisStore::RedisStore(StoreAddress address, RedisStoreOptions options)
    : address_(std::move(address)), options_(std::move(options)), display_(address_.display()) {
    backoff_ = options_.retry_first;
}

RedisStore::~RedisStore() = default;

std::string RedisStore::last_error() const {
    std::lock_guard lock(error_mutex_);
    return last_error_;
}

std::unique_ptr<RedisStore::Connection> RedisStore::take() {
    std::vector<std::unique_ptr<Connection>> stale;  // closed after the lock is released
    std::unique_ptr<Connection> found;
    {
        std::lock_guard lock(pool_mutex_);
        const uint64_t generation = generation_.load();
        while (!idle_.empty() && !found) {
            std::unique_ptr<Connection> c = std::move(idle_.back());
            idle_.pop_back();
            if (c->generation == generation) {
                found = std::move(c);
            } else {
                stale.push_back(std::move(c));
            }
        }
    }
    return found;
}

void RedisStore::give_back(std::unique_ptr<Connection> connection) {
    {
        std::lock_guard lock(pool_mutex_);
        if (connection->generation == generation_.load() && idle_.size() < options_.idle_connections) {
            idle_.push_back(std::move(connection));
            return;
        }
    }
    // `connection` closes here, outside the lock.
}

bool RedisStore::may_try() {
    if (up_.load(std::memory_order_relaxed)) return true;
    int64_t at = retry_at_.load();
    const int64_t now = steady_us();
    if (now < at) return false;
    // This caller tries; the others keep answering from the failure mode meanwhile.
    return retry_at_.compare_exchange_strong(at, now + options_.retry_most + options_.timeout);
}

void RedisStore::failed(const Failure& failure, uint64_t generation) {
    errors_.fetch_add(1, std::memory_order_relaxed);
    {
        std::lock_guard lock(error_mutex_);
        last_error_ = failure.reason;
    }
    // One failure per generation changes the state; the others were in flight beside it.
    uint64_t expected = generation;
    if (!generation_.compare_exchange_strong(expected, generation + 1)) return;
    const int64_t now = steady_us();
    if (up_.exchange(false)) {
        backoff_ = options_.retry_first;
        retry_at_ = now + options_.retry_first;
        const char* mode = options_.failure == StoreFailure::local ? "counting locally" : "authenticated relays get tempfail";
        auto line = "store: " + display_ + " down (" + log_safe(failure.reason) + "); " + mode;
        if (options_.log) {
            options_.log(LOG_WARNING, line);
        } else {
            log_line(LOG_WARNING, line);
        }
        return;
    }
    const int64_t next = std::min<int64_t>(backoff_.load() * 2, options_.retry_most);
    backoff_ = next;
    retry_at_ = now + next;
}

void RedisStore::succeeded(uint64_t generation) {
    if (up_.load(std::memory_order_relaxed) || generation != generation_.load()) return;
    if (up_.exchange(true)) return;
    backoff_ = options_.retry_first;
    const std::string line = "store: " + display_ + " back";
    if (options_.log) {
        options_.log(LOG_NOTICE, line);
    } else {
        log_line(LOG_NOTICE, line);
    }
}

std::optional<RedisStore::Reply> RedisStore::call(Script script, const std::vector<std::string>& args,
                                                  Clock::time_point deadline) {
    const int index = static_cast<int>(script);
    std::unique_ptr<Connection> connection = take();
    const uint64_t generation = connection ? connection->generation : generation_.load();
    Failure failure;
    if (!connection) {
        connection = open_connection(address_, options_.timeout, deadline, failure);
        if (!connection) {
            failed(failure, generation);
            return std::nullopt;
        }
        connection->generation = generation;
    }
    // EVALSHA SHA 2 KEY KEY ARGS...; on NOSCRIPT (a flushed or failed-over Redis), SCRIPT LOAD
    // and EVALSHA again in one round trip.
    std::vector<std::string_view> command{"EVALSHA", connection->sha[index], "2"};
    for (const std::string& arg : args) command.push_back(arg);
    std::string wire;
    append_command(wire, command);
    std::vector<ReplyPtr> replies;
    if (!connection->exchange(wire, 1, replies, deadline, options_.timeout, failure)) {
        failed(failure, generation);
        return std::nullopt;
    }
    if (replies[0]->type == REDIS_REPLY_ERROR && std::string_view(replies[0]->str, replies[0]->len).starts_with("NOSCRIPT")) {
        std::string again;
        append_command(again, {"SCRIPT", "LOAD", script_text(index)});
        again += wire;
        if (!connection->exchange(again, 2, replies, deadline, options_.timeout, failure)) {
            failed(failure, generation);
            return std::nullopt;
        }
        replies.erase(replies.begin());
    }
    if (replies[0]->type == REDIS_REPLY_ERROR) {
        failed({std::string(replies[0]->str, replies[0]->len), true}, generation);
        return std::nullopt;
    }
    give_back(std::move(connection));
    succeeded(generation);
    return Reply{std::move(replies[0])};
}

RelayCount RedisStore::fall_back(const RelayAttempt& attempt) {
    fallbacks_.fetch_add(1, std::memory_order_relaxed);
    if (options_.failure == StoreFailure::local) return local_.relay(attempt);
    return {RelayCount::Outcome::unavailable};
}

namespace {

std::string rate_count(const std::optional<Rate>& rate) { return rate ? number(rate->count) : "0"; }
std::string rate_period(const std::optional<Rate>& rate) { return rate ? number(rate->period_seconds) : "0"; }

// The integers of an array reply, or nullopt when it is not `count` of them.
std::optional<std::vector<int64_t>> integers(const redisReply* reply, size_t count) {
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != count) return std::nullopt;
    std::vector<int64_t> out;
    for (size_t i = 0; i < count; ++i) {
        if (reply->element[i]->type != REDIS_REPLY_INTEGER) return std::nullopt;
        out.push_back(reply->element[i]->integer);
    }
    return out;
}

}  // namespace

RelayCount RedisStore::relay(const RelayAttempt& a) {
    const auto deadline = Clock::now() + std::chrono::microseconds(options_.timeout);
    if (!may_try()) return fall_back(a);
    const std::string prefix = key_prefix(a.login);
    const std::vector<std::string> args{prefix + "login",
                                        prefix + "clients",
                                        rate_count(a.limits.recipients),
                                        rate_period(a.limits.recipients),
                                        rate_count(a.limits.messages),
                                        rate_period(a.limits.messages),
                                        rate_count(a.limits.clients),
                                        rate_period(a.limits.clients),
                                        client_member(a.client),
                                        a.new_message ? "1" : "0",
                                        number(a.lock_seconds),
                                        login_key(a.login),
                                        options_.attempt_clock ? number(a.now) : ""};
    auto reply = call(Script::relay, args, deadline);
    if (!reply) return fall_back(a);
    auto values = integers(reply->reply.get(), 3);
    if (!values || (*values)[0] < 0 || (*values)[0] > 4) {
        failed({"the relay script gave an unexpected reply", true}, generation_.load());
        return fall_back(a);
    }
    using Outcome = RelayCount::Outcome;
    static constexpr Outcome kOutcomes[] = {Outcome::allowed, Outcome::recipient_limit, Outcome::message_limit,
                                            Outcome::locked, Outcome::locked_now};
    return {kOutcomes[(*values)[0]], static_cast<uint32_t>((*values)[1]), (*values)[2]};
}

void RedisStore::expire(Microseconds now) { local_.expire(now); }

std::optional<LoginUse> RedisStore::use(std::string_view login, const LoginLimits& limits, Microseconds now) {
    const auto deadline = Clock::now() + std::chrono::microseconds(options_.timeout);
    if (!may_try()) return std::nullopt;
    const std::string prefix = key_prefix(login);
    const std::vector<std::string> args{prefix + "login",         prefix + "clients",
                                        rate_count(limits.recipients), rate_period(limits.recipients),
                                        rate_count(limits.messages),   rate_period(limits.messages),
                                        rate_period(limits.clients),   options_.attempt_clock ? number(now) : ""};
    auto reply = call(Script::use, args, deadline);
    if (!reply) return std::nullopt;
    auto values = integers(reply->reply.get(), 4);
    if (!values) return std::nullopt;
    return LoginUse{double((*values)[0]) / 1e6, double((*values)[1]) / 1e6, static_cast<uint32_t>((*values)[2]),
                    (*values)[3]};
}

std::optional<bool> RedisStore::unlock_shared(std::string_view login, std::string& why) {
    const auto deadline = Clock::now() + std::chrono::microseconds(options_.timeout);
    if (!may_try()) {
        why = display_ + ": down (" + last_error() + ")";
        return std::nullopt;
    }
    const std::string prefix = key_prefix(login);
    auto reply = call(Script::unlock, {prefix + "login", prefix + "clients"}, deadline);
    if (!reply || reply->reply->type != REDIS_REPLY_INTEGER) {
        why = display_ + ": " + (reply ? "the unlock script gave an unexpected reply" : last_error());
        return std::nullopt;
    }
    return reply->reply->integer == 1;
}

bool RedisStore::unlock(std::string_view login) {
    const bool local = local_.unlock(login);
    std::string why;
    return unlock_shared(login, why).value_or(false) || local;
}

StoreCheck RedisStore::check(const StoreAddress& address, Microseconds timeout) {
    const std::string display = address.display();
    if (!address.shared()) return {StoreCheck::Result::usable, "", ""};
    const auto deadline = Clock::now() + std::chrono::microseconds(timeout);
    Failure failure;
    auto connection = open_connection(address, timeout, deadline, failure);
    if (connection) {
        // One read through the use script: EVALSHA, TIME and the key pattern are allowed.
        const std::string prefix = key_prefix("relaymilter-check");
        std::string wire;
        append_command(wire, {"EVALSHA", connection->sha[static_cast<int>(Script::use)], "2", prefix + "login",
                              prefix + "clients", "0", "0", "0", "0", "0", ""});
        std::vector<ReplyPtr> replies;
        if (connection->exchange(wire, 1, replies, deadline, timeout, failure)) {
            if (replies[0]->type != REDIS_REPLY_ERROR) return {StoreCheck::Result::usable, "", ""};
            failure = {std::string(replies[0]->str, replies[0]->len), true};
        }
    }
    const bool refused = failure.answered && !transient(failure.reason);
    return {refused ? StoreCheck::Result::refused : StoreCheck::Result::unreachable, display + ": " + failure.reason,
            failure.reason};
}

RedisStoreOptions store_options(const DaemonOptions& conf, std::optional<StoreFailure> failure) {
    RedisStoreOptions options;
    options.timeout = conf.limits_store_timeout;
    options.failure = failure.value_or(conf.limits_store_failure);
    return options;
}

}  // namespace relaymilter
