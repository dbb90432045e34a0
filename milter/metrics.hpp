// metrics: what relaymilter counts for Prometheus, and the endpoint that serves it: prometheus-cpp's
// registry with every relaymilter_* and process_* metric and, once started, its HTTP server
// answering GET /metrics; any other request gets 404 and changes nothing (civetweb itself answers
// methods it does not know, like TRACE, with 400, and closes on the target "*"). Labels are fixed
// (verdict, rule, stage, kind, result), never a login or an address. It records what the
// callbacks and the daemon tell it; it decides nothing and reads no conf.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "metrics_address.hpp"
#include "policy.hpp"

namespace prometheus {
class Collectable;
class Counter;
template <typename T>
class Family;
class Gauge;
class Histogram;
class Registry;
class Exposer;
}  // namespace prometheus

namespace relaymilter {

class Metrics {
public:
    struct Setup {
        std::string version;              // relaymilter_build_info{version}
        std::vector<std::string> stages;  // callback stages, counted from 0: "negotiate", "connect", ...
        bool store = false;               // a Redis store: relaymilter_store_up and _store_errors_total
    };

    // One rule's decision counters, one per verdict, found once by the rule's log name so that
    // recording a decision looks up no label. A small value: copy it into a table.
    class RuleCounters {
    public:
        RuleCounters() = default;

    private:
        friend class Metrics;
        std::array<prometheus::Counter*, 4> by_action_{};  // indexed by Action
    };

    explicit Metrics(const Setup& setup);
    ~Metrics();
    Metrics(const Metrics&) = delete;
    Metrics& operator=(const Metrics&) = delete;

    // Serves GET /metrics on `address` (port 0: a free port the kernel picks). The reason when it
    // cannot, e.g. "cannot serve metrics on inet:9757@127.0.0.1: cannot bind to 127.0.0.1:9757:
    // 98 (Address already in use)". Start it in the process that will serve (after detaching:
    // its threads do not survive fork) and with the daemon's signals blocked (its threads inherit
    // the mask). At most once.
    [[nodiscard]] std::optional<std::string> start(const MetricsAddress& address);
    // The port served, 0 before start.
    [[nodiscard]] uint16_t port() const;
    // Whether this civetweb can listen on IPv6 (Debian 12's libcivetweb1 1.15 cannot).
    [[nodiscard]] static bool ipv6_supported();

    // The counters of the rule named `name` (rule_name()); each new name adds four series, so call
    // it once per rule at start, not per decision.
    [[nodiscard]] RuleCounters rule(std::string_view name);

    // A recipient's decision: relaymilter_decisions_total{verdict,rule} and, `took` (the policy
    // decision, store round trip included), relaymilter_decision_seconds. Cheap: no lock on the
    // counter, one short one inside prometheus-cpp's histogram.
    void decision(const RuleCounters& rule, Action action, std::chrono::nanoseconds took) noexcept;
    // A success or delay notice request dropped at end of message.
    void notice_suppressed() noexcept;
    // A login locked now (its lock-reply starts).
    void login_locked() noexcept;
    // relaymilter_locked_logins: `count` is called at each scrape, from the HTTP thread; it must be
    // thread-safe and quick (nullopt: the store cannot tell, the metric is left out).
    void locked_logins_from(std::function<std::optional<double>()> count);
    // A milter connection opened (negotiate or connect made its session) or closed.
    void session_opened() noexcept;
    void session_closed() noexcept;
    // A callback failed and answered tempfail (guarded()). `stage` is one of Setup::stages; any
    // other name is counted too, under its own label (keep the names fixed).
    void callback_error(std::string_view stage) noexcept;
    // A SIGHUP reload: the new policy is in force, or it was refused and the old one stays.
    void reload_ok() noexcept;
    void reload_refused() noexcept;
    // relaymilter_rules{kind}: the rules of the policy in force (at start and after each reload).
    void rules(const Policy::Counts& counts) noexcept;
    // The Redis store (no-ops without Setup::store): reachable or not, and one failed round trip.
    void store_up(bool up) noexcept;
    void store_error() noexcept;

private:
    class ScrapeGauge;
    class Http;

    std::shared_ptr<prometheus::Registry> registry_;
    std::shared_ptr<ScrapeGauge> locked_logins_;
    std::shared_ptr<prometheus::Collectable> process_;
    std::unique_ptr<Http> http_;

    prometheus::Family<prometheus::Counter>* decisions_ = nullptr;
    prometheus::Family<prometheus::Counter>* callback_errors_ = nullptr;

    prometheus::Histogram* decision_seconds_ = nullptr;
    prometheus::Counter* notices_suppressed_ = nullptr;
    prometheus::Counter* locks_ = nullptr;
    prometheus::Gauge* sessions_ = nullptr;
    prometheus::Counter* reloads_ok_ = nullptr;
    prometheus::Counter* reloads_refused_ = nullptr;
    std::array<prometheus::Gauge*, 4> rules_{};
    prometheus::Gauge* store_up_ = nullptr;
    prometheus::Counter* store_errors_ = nullptr;
    std::vector<std::pair<std::string, prometheus::Counter*>> stage_errors_;
};

}  // namespace relaymilter
