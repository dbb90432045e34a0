// metrics: the relaymilter_* families registered once, label children resolved up front, and the
// HTTP side: prometheus-cpp's Exposer (civetweb 1.15) with a begin_request hook of our own, because
// civetweb alone serves the metrics for /metrics/, /metricsx, /metrics/x and /Metrics (its handler
// match is a case-insensitive prefix), and answers PUT, DELETE, PATCH and MKCOL with 405.
#include "metrics.hpp"

#include <CivetServer.h>
#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <cstring>
#include <mutex>

#include "process_metrics.hpp"

namespace relaymilter {

namespace {

constexpr const char* kPath = "/metrics";
constexpr unsigned kIpv6Feature = 8;  // mg_check_feature: "IPv6 support"

// The verdict label of each Action, in the order of action_index().
constexpr const char* kVerdicts[] = {"accept", "reject", "would_reject", "tempfail"};

size_t action_index(Action action) {
    switch (action) {
    case Action::accept: return 0;
    case Action::refuse: return 1;
    case Action::would_refuse: return 2;
    case Action::tempfail: return 3;
    }
    return 3;
}

// 1 µs to 1 s in steps of 1, 2.5, 5 (written out: computed bounds print as 1.0000000000000001e-05):
// a memory-store decision takes about a microsecond, a Redis round trip a few hundred, a stalled
// store up to limits-store-timeout.
const prometheus::Histogram::BucketBoundaries kDecisionBuckets = {
    1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3,
    2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1.0};

// civetweb's messages while start() runs on this thread (why a bind failed); others are dropped.
thread_local std::string* t_start_messages = nullptr;

int on_civetweb_message(const mg_connection*, const char* message) {
    if (t_start_messages && message) {
        if (!t_start_messages->empty()) *t_start_messages += "; ";
        *t_start_messages += message;
    }
    return 1;  // civetweb prints nothing itself
}

// Before civetweb routes a request: anything but GET of exactly /metrics (after civetweb's own
// normalisation of "." segments and repeated slashes; a query string is ignored) gets 404 here,
// so neither prometheus-cpp's handler nor its scrape counters see it.
int only_get_metrics(mg_connection* conn) {
    const mg_request_info* request = mg_get_request_info(conn);
    const char* method = request && request->request_method ? request->request_method : "";
    const char* path = request && request->local_uri ? request->local_uri : "";
    if (std::strcmp(method, "GET") == 0 && std::strcmp(path, kPath) == 0) return 0;
    static constexpr char kBody[] = "Not Found: relaymilter serves only GET /metrics\n";
    mg_printf(conn,
              "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %zu\r\n"
              "Connection: close\r\n\r\n",
              sizeof kBody - 1);
    if (std::strcmp(method, "HEAD") != 0) mg_write(conn, kBody, sizeof kBody - 1);
    return 404;
}

}  // namespace

// A gauge whose value is asked for at scrape time (relaymilter_locked_logins).
class Metrics::ScrapeGauge final : public prometheus::Collectable {
public:
    ScrapeGauge(std::string name, std::string help) : name_(std::move(name)), help_(std::move(help)) {}

    void source(std::function<std::optional<double>()> value) {
        std::lock_guard lock(mutex_);
        value_ = std::move(value);
    }

    std::vector<prometheus::MetricFamily> Collect() const override {
        std::lock_guard lock(mutex_);
        if (!value_) return {};
        std::optional<double> value;
        try {
            value = value_();
        } catch (...) {
        }
        if (!value) return {};
        prometheus::ClientMetric metric;
        metric.gauge.value = *value;
        return {{name_, help_, prometheus::MetricType::Gauge, {metric}}};
    }

private:
    std::string name_;
    std::string help_;
    mutable std::mutex mutex_;
    std::function<std::optional<double>()> value_;
};

// The HTTP server: civetweb's callbacks must outlive it, so both live here.
class Metrics::Http {
public:
    Http() {
        callbacks_.begin_request = only_get_metrics;
        callbacks_.log_message = on_civetweb_message;
    }
    CivetCallbacks callbacks_;
    std::unique_ptr<prometheus::Exposer> exposer_;
};

Metrics::Metrics(const Setup& setup)
    : registry_(std::make_shared<prometheus::Registry>()),
      locked_logins_(std::make_shared<ScrapeGauge>(
          "relaymilter_locked_logins",
          "Logins locked now: every relay attempt of theirs gets lock-reply until the lock expires.")),
      process_(process_metrics()) {
    using prometheus::BuildCounter;
    using prometheus::BuildGauge;
    using prometheus::BuildHistogram;
    prometheus::Registry& r = *registry_;

    decisions_ = &BuildCounter()
                      .Name("relaymilter_decisions_total")
                      .Help("Recipients decided, by verdict (accept, reject, tempfail; would_reject in dry-run mode) "
                            "and by the rule that decided, as rule= in the mail log.")
                      .Register(r);
    decision_seconds_ = &BuildHistogram()
                             .Name("relaymilter_decision_seconds")
                             .Help("Time to decide one recipient (the policy and the limits store round trip), "
                                   "in seconds.")
                             .Register(r)
                             .Add({}, kDecisionBuckets);
    notices_suppressed_ = &BuildCounter()
                               .Name("relaymilter_notices_suppressed_total")
                               .Help("Success or delay notice (DSN) requests dropped at end of message because the "
                                     "client may not send mail to the envelope sender.")
                               .Register(r)
                               .Add({});
    locks_ = &BuildCounter()
                  .Name("relaymilter_locks_total")
                  .Help("Logins locked for relaying from more client addresses than login-client-limit allows "
                        "(a stolen password, most likely); the mail log names each one (lock: login=...).")
                  .Register(r)
                  .Add({});
    sessions_ = &BuildGauge()
                     .Name("relaymilter_sessions")
                     .Help("Milter connections open now: about one per SMTP session the MTA has in progress.")
                     .Register(r)
                     .Add({});
    auto& reloads = BuildCounter()
                        .Name("relaymilter_reloads_total")
                        .Help("Conf reloads (SIGHUP) by result: ok, the new conf is in force; refused, it had "
                              "errors and the previous policy stays (the mail log says why).")
                        .Register(r);
    reloads_ok_ = &reloads.Add({{"result", "ok"}});
    reloads_refused_ = &reloads.Add({{"result", "refused"}});
    auto& rules = BuildGauge()
                      .Name("relaymilter_rules")
                      .Help("Rules in the policy in force, by kind.")
                      .Register(r);
    const char* kinds[] = {"local-domain", "allow-net", "deny-net", "internal-address"};
    for (size_t i = 0; i < rules_.size(); ++i) rules_[i] = &rules.Add({{"kind", kinds[i]}});
    callback_errors_ = &BuildCounter()
                            .Name("relaymilter_callback_errors_total")
                            .Help("Internal errors in a milter callback, by stage; each was answered with tempfail "
                                  "and logged (internal error) in the mail log.")
                            .Register(r);
    for (const std::string& stage : setup.stages) {
        stage_errors_.emplace_back(stage, &callback_errors_->Add({{"stage", stage}}));
    }
    if (setup.store) {
        store_up_ = &BuildGauge()
                         .Name("relaymilter_store_up")
                         .Help("1 while the Redis limits store answers, 0 while it does not (limits-store-failure "
                               "says what happens to authenticated relays meanwhile).")
                         .Register(r)
                         .Add({});
        store_errors_ = &BuildCounter()
                             .Name("relaymilter_store_errors_total")
                             .Help("Round trips to the Redis limits store that failed (timeout, connection, error "
                                   "reply).")
                             .Register(r)
                             .Add({});
    }
    BuildGauge()
        .Name("relaymilter_build_info")
        .Help("Always 1; the version label says which relaymilter release runs.")
        .Register(r)
        .Add({{"version", setup.version}})
        .Set(1);
}

Metrics::~Metrics() = default;

bool Metrics::ipv6_supported() { return mg_check_feature(kIpv6Feature) != 0; }

std::optional<std::string> Metrics::start(const MetricsAddress& address) {
    const std::string prefix = "cannot serve metrics on " + address.to_string() + ": ";
    if (http_) return prefix + "already serving on port " + std::to_string(port());
    if (address.is_v6() && !ipv6_supported()) {
        return prefix + "the HTTP library (civetweb " + mg_version() +
               ") was built without IPv6; listen on an IPv4 address, e.g. inet:" + std::to_string(address.port) +
               "@127.0.0.1";
    }
    auto http = std::make_unique<Http>();
    std::string messages;
    t_start_messages = &messages;
    try {
        http->exposer_ = std::make_unique<prometheus::Exposer>(
            std::vector<std::string>{"listening_ports", address.host_port(), "num_threads", "2", "request_timeout_ms",
                                     "10000"},
            &http->callbacks_);
    } catch (const std::exception& e) {
        t_start_messages = nullptr;
        return prefix + (messages.empty() ? std::string(e.what()) : messages);
    }
    t_start_messages = nullptr;
    http->exposer_->RegisterCollectable(registry_, kPath);
    http->exposer_->RegisterCollectable(process_, kPath);
    http->exposer_->RegisterCollectable(locked_logins_, kPath);
    http_ = std::move(http);
    return std::nullopt;
}

uint16_t Metrics::port() const {
    if (!http_) return 0;
    const std::vector<int> ports = http_->exposer_->GetListeningPorts();
    return ports.empty() ? 0 : static_cast<uint16_t>(ports.front());
}

Metrics::RuleCounters Metrics::rule(std::string_view name) {
    RuleCounters counters;
    for (size_t i = 0; i < counters.by_action_.size(); ++i) {
        counters.by_action_[i] = &decisions_->Add({{"verdict", kVerdicts[i]}, {"rule", std::string(name)}});
    }
    return counters;
}

void Metrics::decision(const RuleCounters& rule, Action action, std::chrono::nanoseconds took) noexcept {
    if (prometheus::Counter* counter = rule.by_action_[action_index(action)]) counter->Increment();
    try {
        decision_seconds_->Observe(std::chrono::duration<double>(took).count());
    } catch (...) {  // its mutex failing: the count above stands, the time is lost
    }
}

void Metrics::notice_suppressed() noexcept { notices_suppressed_->Increment(); }
void Metrics::login_locked() noexcept { locks_->Increment(); }
void Metrics::locked_logins_from(std::function<std::optional<double>()> count) { locked_logins_->source(std::move(count)); }
void Metrics::session_opened() noexcept { sessions_->Increment(); }
void Metrics::session_closed() noexcept { sessions_->Decrement(); }
void Metrics::reload_ok() noexcept { reloads_ok_->Increment(); }
void Metrics::reload_refused() noexcept { reloads_refused_->Increment(); }

void Metrics::callback_error(std::string_view stage) noexcept {
    for (const auto& [name, counter] : stage_errors_) {
        if (name == stage) return counter->Increment();
    }
    try {
        callback_errors_->Add({{"stage", std::string(stage)}}).Increment();
    } catch (...) {  // no memory for a new label: the log line still tells
    }
}

void Metrics::rules(const Policy::Counts& counts) noexcept {
    rules_[0]->Set(static_cast<double>(counts.local_domains));
    rules_[1]->Set(static_cast<double>(counts.allow_nets));
    rules_[2]->Set(static_cast<double>(counts.deny_nets));
    rules_[3]->Set(static_cast<double>(counts.internal_addresses));
}

void Metrics::store_up(bool up) noexcept {
    if (store_up_) store_up_->Set(up ? 1 : 0);
}

void Metrics::store_error() noexcept {
    if (store_errors_) store_errors_->Increment();
}

}  // namespace relaymilter
