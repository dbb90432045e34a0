// Tests for milter/metrics: the module on its own, served on a free loopback port and scraped over
// real HTTP: exact counter values, the histogram's buckets, the process_* metrics, a port in use,
// and the 404 for every request that is not a GET of /metrics (which must change nothing).
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <grp.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <ctime>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include <civetweb.h>
#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include "http_scrape.hpp"
#include "metrics.hpp"
#include "process_metrics.hpp"

using namespace relaymilter;
using relaymilter::test::http_request;
using relaymilter::test::parse_scrape;
using relaymilter::test::Scrape;

namespace {

MetricsAddress loopback_any_port() {
    return MetricsAddress{*IpAddress::parse("127.0.0.1"), 0};
}

Metrics::Setup setup(bool store = false) {
    return Metrics::Setup{"9.8.7-test", {"negotiate", "connect", "mail", "rcpt", "eom"}, store};
}

// A started module, or the test fails with the reason it did not start.
void start(Metrics& metrics) {
    const auto why = metrics.start(loopback_any_port());
    INFO("start: " << why.value_or("ok"));
    REQUIRE_FALSE(why);
    REQUIRE(metrics.port() != 0);
}

Scrape scrape(const Metrics& metrics) {
    const auto reply = http_request(metrics.port(), "GET", "/metrics");
    INFO("GET /metrics: " << reply.headers);
    REQUIRE(reply.status == 200);
    REQUIRE(reply.headers.find("Content-Type: text/plain") != std::string::npos);
    return parse_scrape(reply.body);
}

double value(const Scrape& s, std::string_view name, const std::map<std::string, std::string>& labels = {}) {
    const auto v = s.value(name, labels);
    INFO("series " << Scrape::key(name, labels) << " is missing from the scrape");
    REQUIRE(v);
    return *v;
}

double decisions(const Scrape& s, const char* verdict, const char* rule) {
    return value(s, "relaymilter_decisions_total", {{"rule", rule}, {"verdict", verdict}});
}

}  // namespace

TEST_CASE("A fresh scrape has every metric with its HELP, at its starting value", "[metrics]") {
    Metrics metrics(setup());
    (void)metrics.rule("default");
    start(metrics);
    const Scrape s = scrape(metrics);
    for (const char* name : {"relaymilter_decisions_total", "relaymilter_decision_seconds", "relaymilter_notices_suppressed_total",
                             "relaymilter_locks_total", "relaymilter_reloads_total", "relaymilter_rules", "relaymilter_sessions",
                             "relaymilter_callback_errors_total", "relaymilter_build_info", "process_cpu_seconds_total",
                             "process_resident_memory_bytes", "process_virtual_memory_bytes", "process_start_time_seconds",
                             "process_open_fds", "process_max_fds"}) {
        INFO(name);
        REQUIRE(s.help.count(name) == 1);
        CHECK(s.help.at(name).size() > 20);
    }
    CHECK(s.type.at("relaymilter_decisions_total") == "counter");
    CHECK(s.type.at("relaymilter_decision_seconds") == "histogram");
    CHECK(s.type.at("relaymilter_sessions") == "gauge");
    CHECK(s.type.at("process_cpu_seconds_total") == "counter");
    for (const char* verdict : {"accept", "reject", "would_reject", "tempfail"}) CHECK(decisions(s, verdict, "default") == 0);
    CHECK(value(s, "relaymilter_build_info", {{"version", "9.8.7-test"}}) == 1);
    CHECK(value(s, "relaymilter_reloads_total", {{"result", "ok"}}) == 0);
    CHECK(value(s, "relaymilter_reloads_total", {{"result", "refused"}}) == 0);
    for (const char* stage : {"negotiate", "connect", "mail", "rcpt", "eom"}) {
        CHECK(value(s, "relaymilter_callback_errors_total", {{"stage", stage}}) == 0);
    }
    for (const char* kind : {"local-domain", "allow-net", "deny-net", "internal-address"}) {
        CHECK(value(s, "relaymilter_rules", {{"kind", kind}}) == 0);
    }
    CHECK(value(s, "relaymilter_sessions") == 0);
    CHECK(value(s, "relaymilter_decision_seconds_count") == 0);
    // Without a Redis store, no store metrics; without a source, no locked_logins.
    CHECK_FALSE(s.help.count("relaymilter_store_up"));
    CHECK_FALSE(s.help.count("relaymilter_store_errors_total"));
    CHECK_FALSE(s.help.count("relaymilter_locked_logins"));
}

TEST_CASE("Counters and gauges read back exactly what was recorded", "[metrics]") {
    Metrics metrics(setup(true));
    const Metrics::RuleCounters by_default = metrics.rule("default");
    const Metrics::RuleCounters deny_net = metrics.rule("deny-net");
    const Metrics::RuleCounters local_domain = metrics.rule("local-domain");
    const Metrics::RuleCounters login_limit = metrics.rule("login-limit");
    start(metrics);
    using std::chrono::microseconds;
    for (int i = 0; i < 7; ++i) metrics.decision(by_default, Action::refuse, microseconds(3));
    for (int i = 0; i < 3; ++i) metrics.decision(deny_net, Action::refuse, microseconds(1));
    for (int i = 0; i < 5; ++i) metrics.decision(local_domain, Action::accept, microseconds(40));
    for (int i = 0; i < 2; ++i) metrics.decision(login_limit, Action::would_refuse, microseconds(300));
    metrics.decision(login_limit, Action::tempfail, std::chrono::milliseconds(700));
    for (int i = 0; i < 4; ++i) metrics.notice_suppressed();
    for (int i = 0; i < 2; ++i) metrics.login_locked();
    metrics.locked_logins_from([] { return std::optional<double>(6); });
    for (int i = 0; i < 5; ++i) metrics.session_opened();
    for (int i = 0; i < 2; ++i) metrics.session_closed();
    metrics.callback_error("rcpt");
    metrics.callback_error("rcpt");
    metrics.callback_error("a stage not named at setup");
    metrics.reload_ok();
    for (int i = 0; i < 3; ++i) metrics.reload_refused();
    metrics.rules(Policy::Counts{2, 3, 1, 4});
    metrics.store_up(true);
    for (int i = 0; i < 9; ++i) metrics.store_error();

    const Scrape s = scrape(metrics);
    struct Row {
        const char* verdict;
        const char* rule;
        double want;
    };
    const Row rows[] = {
        {"reject", "default", 7},      {"accept", "default", 0},         {"reject", "deny-net", 3},
        {"accept", "local-domain", 5}, {"reject", "local-domain", 0},    {"would_reject", "login-limit", 2},
        {"tempfail", "login-limit", 1}, {"reject", "login-limit", 0},
    };
    for (const Row& row : rows) {
        INFO("decisions{verdict=" << row.verdict << ",rule=" << row.rule << "}: want " << row.want);
        CHECK(decisions(s, row.verdict, row.rule) == row.want);
    }
    CHECK(value(s, "relaymilter_notices_suppressed_total") == 4);
    CHECK(value(s, "relaymilter_locks_total") == 2);
    CHECK(value(s, "relaymilter_locked_logins") == 6);
    CHECK(value(s, "relaymilter_sessions") == 3);
    CHECK(value(s, "relaymilter_callback_errors_total", {{"stage", "rcpt"}}) == 2);
    CHECK(value(s, "relaymilter_callback_errors_total", {{"stage", "mail"}}) == 0);
    CHECK(value(s, "relaymilter_callback_errors_total", {{"stage", "a stage not named at setup"}}) == 1);
    CHECK(value(s, "relaymilter_reloads_total", {{"result", "ok"}}) == 1);
    CHECK(value(s, "relaymilter_reloads_total", {{"result", "refused"}}) == 3);
    CHECK(value(s, "relaymilter_rules", {{"kind", "local-domain"}}) == 2);
    CHECK(value(s, "relaymilter_rules", {{"kind", "allow-net"}}) == 3);
    CHECK(value(s, "relaymilter_rules", {{"kind", "deny-net"}}) == 1);
    CHECK(value(s, "relaymilter_rules", {{"kind", "internal-address"}}) == 4);
    CHECK(value(s, "relaymilter_store_up") == 1);
    CHECK(value(s, "relaymilter_store_errors_total") == 9);

    // The histogram: 18 decisions, cumulative per bucket: 3 at 1 µs, 7 at 3 µs, 5 at 40 µs,
    // 2 at 300 µs, 1 at 700 ms.
    const char* h = "relaymilter_decision_seconds_bucket";
    CHECK(value(s, "relaymilter_decision_seconds_count") == 18);
    CHECK(value(s, "relaymilter_decision_seconds_sum") == Approx(7 * 3e-6 + 3 * 1e-6 + 5 * 40e-6 + 2 * 300e-6 + 0.7));
    struct Bucket {
        const char* le;
        double want;
    };
    const Bucket buckets[] = {{"1e-06", 3}, {"2.5e-06", 3}, {"5e-06", 10}, {"5e-05", 15}, {"0.00025", 15},
                              {"0.0005", 17}, {"0.5", 17}, {"1", 18}, {"+Inf", 18}};
    for (const Bucket& b : buckets) {
        INFO("le=" << b.le);
        CHECK(value(s, h, {{"le", b.le}}) == b.want);
    }

    metrics.locked_logins_from([] { return std::optional<double>(); });  // the store cannot tell now
    CHECK_FALSE(scrape(metrics).value("relaymilter_locked_logins"));
    metrics.store_up(false);
    CHECK(value(scrape(metrics), "relaymilter_store_up") == 0);
}

TEST_CASE("Decisions recorded from several threads at once are all counted", "[metrics]") {
    Metrics metrics(setup());
    const Metrics::RuleCounters rule = metrics.rule("authenticated");
    start(metrics);
    constexpr int kThreads = 4;
    constexpr int kEach = 50'000;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < kEach; ++i) {
                metrics.decision(rule, Action::accept, std::chrono::nanoseconds(800));
                metrics.session_opened();
                metrics.session_closed();
            }
        });
    }
    for (auto& thread : threads) thread.join();
    const Scrape s = scrape(metrics);
    CHECK(decisions(s, "accept", "authenticated") == kThreads * kEach);
    CHECK(value(s, "relaymilter_decision_seconds_count") == kThreads * kEach);
    CHECK(value(s, "relaymilter_decision_seconds_bucket", {{"le", "1e-06"}}) == kThreads * kEach);
    CHECK(value(s, "relaymilter_sessions") == 0);
}

// The process_* values as the collector gives them, by name. Read directly, with no HTTP server
// running: its threads open and close sockets (a finished scrape's socket may still be closing
// when the next one is counted), which would make a descriptor count race.
Scrape collect_process_metrics() {
    Scrape s;
    for (const prometheus::MetricFamily& family : process_metrics()->Collect()) {
        REQUIRE(family.metric.size() == 1);
        const prometheus::ClientMetric& m = family.metric.front();
        s.samples[family.name] = family.type == prometheus::MetricType::Counter ? m.counter.value : m.gauge.value;
    }
    return s;
}

TEST_CASE("process_* metrics describe this process", "[metrics]") {
    const Scrape before = collect_process_metrics();
    const int extra = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    REQUIRE(extra >= 0);
    const Scrape after = collect_process_metrics();
    ::close(extra);

    rlimit limit{};
    REQUIRE(getrlimit(RLIMIT_NOFILE, &limit) == 0);
    CHECK(value(after, "process_max_fds") == static_cast<double>(limit.rlim_cur));
    CHECK(value(after, "process_open_fds") == value(before, "process_open_fds") + 1);
    CHECK(value(after, "process_open_fds") >= 4);  // stdin, stdout, stderr, /dev/null
    CHECK(value(after, "process_resident_memory_bytes") > 1e6);
    CHECK(value(after, "process_virtual_memory_bytes") >= value(after, "process_resident_memory_bytes"));
    CHECK(value(after, "process_cpu_seconds_total") >= value(before, "process_cpu_seconds_total"));
    const double started = value(after, "process_start_time_seconds");
    const auto now = static_cast<double>(std::time(nullptr));
    CHECK(started <= now + 1);
    CHECK(started > now - 86400);  // this test process started today, not at the epoch or at boot
    // The same as /proc/stat's boot time (whole seconds) plus /proc/self/stat's start in ticks.
    std::ifstream proc_stat("/proc/stat");
    double btime = 0;
    for (std::string line; std::getline(proc_stat, line);) {
        if (line.rfind("btime ", 0) == 0) btime = std::stod(line.substr(6));
    }
    std::ifstream self_stat("/proc/self/stat");
    std::string self;
    std::getline(self_stat, self);
    std::istringstream fields(self.substr(self.rfind(')') + 2));
    std::string field;
    for (int i = 3; i <= 22; ++i) fields >> field;  // proc(5) field 22: starttime
    const double from_btime = btime + std::stod(field) / static_cast<double>(sysconf(_SC_CLK_TCK));
    CHECK(btime > 0);
    CHECK(std::abs(started - from_btime) < 1.5);
}

TEST_CASE("process_* metrics are still read after the daemon drops root", "[metrics]") {
    if (getuid() != 0) {
        WARN("not root: dropping root not tried");
        return;
    }
    int pipe_fds[2];
    REQUIRE(pipe(pipe_fds) == 0);
    const auto collector = process_metrics();
    const pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {  // as the daemon does: supplementary groups, group, then user
        std::string names;
        if (setgroups(0, nullptr) == 0 && setgid(65534) == 0 && setuid(65534) == 0) {
            for (const auto& family : collector->Collect()) names += family.name + " ";
        }
        [[maybe_unused]] ssize_t n = ::write(pipe_fds[1], names.data(), names.size());
        _exit(0);
    }
    ::close(pipe_fds[1]);
    std::string names;
    char buf[512];
    for (ssize_t n; (n = ::read(pipe_fds[0], buf, sizeof buf)) > 0;) names.append(buf, static_cast<size_t>(n));
    ::close(pipe_fds[0]);
    int status = 0;
    waitpid(child, &status, 0);
    CHECK(names == "process_cpu_seconds_total process_resident_memory_bytes process_virtual_memory_bytes "
                   "process_start_time_seconds process_open_fds process_max_fds ");
}

TEST_CASE("A port already in use is a clear error, and the first server keeps serving", "[metrics]") {
    Metrics first(setup());
    start(first);
    Metrics second(setup());
    const MetricsAddress taken{*IpAddress::parse("127.0.0.1"), first.port()};
    const auto why = second.start(taken);
    REQUIRE(why);
    INFO(*why);
    CHECK(why->find("cannot serve metrics on inet:" + std::to_string(first.port()) + "@127.0.0.1") == 0);
    CHECK(why->find("Address already in use") != std::string::npos);
    CHECK(second.port() == 0);
    CHECK(scrape(first).value("relaymilter_sessions"));
    CHECK(first.start(taken) == "cannot serve metrics on " + taken.to_string() + ": already serving on port " +
                                    std::to_string(first.port()));
}

TEST_CASE("inet6 is served where civetweb can, and refused with the fix where it cannot", "[metrics]") {
    Metrics metrics(setup());
    const MetricsAddress v6{*IpAddress::parse("::1"), 0};
    const auto why = metrics.start(v6);
    if (Metrics::ipv6_supported()) {
        INFO("start: " << why.value_or("ok"));
        REQUIRE_FALSE(why);
        CHECK(http_request(metrics.port(), "GET", "/metrics", {}, true).status == 200);
    } else {  // Debian 12's civetweb 1.15
        REQUIRE(why);
        CHECK(*why == std::string("cannot serve metrics on inet6:0@[::1]: the HTTP library (civetweb ") + mg_version() +
                          ") was built without IPv6; listen on an IPv4 address, e.g. inet:0@127.0.0.1");
    }
}

TEST_CASE("Every request but a GET of /metrics gets 404 and changes nothing", "[metrics][404]") {
    Metrics metrics(setup());
    const Metrics::RuleCounters rule = metrics.rule("default");
    start(metrics);
    metrics.decision(rule, Action::refuse, std::chrono::microseconds(2));
    const Scrape before = scrape(metrics);

    struct Row {
        const char* method;
        const char* path;
        const char* body;
    };
    const Row rows[] = {
        {"GET", "/", ""},           {"GET", "/metrics/", ""},       {"GET", "/metricsx", ""},
        {"GET", "/metrics/x", ""},  {"GET", "/favicon.ico", ""},    {"GET", "/Metrics", ""},
        {"POST", "/metrics", "a=b"}, {"POST", "/metrics", ""},       {"HEAD", "/metrics", ""},
        {"PUT", "/metrics", "x"},   {"DELETE", "/metrics", ""},     {"PATCH", "/metrics", "x"},
        {"OPTIONS", "/metrics", ""}, {"PROPFIND", "/metrics", ""},    {"CONNECT", "/metrics", ""},
        {"MKCOL", "/metrics", ""},  {"LOCK", "/metrics", "x"},
    };
    for (const Row& row : rows) {
        const auto reply = http_request(metrics.port(), row.method, row.path, row.body);
        INFO(row.method << " " << row.path << ": got status " << reply.status << ", want 404\n" << reply.headers);
        CHECK(reply.status == 404);
        if (std::string_view(row.method) == "HEAD") {
            CHECK(reply.body.empty());
        } else {
            CHECK(reply.body == "Not Found: relaymilter serves only GET /metrics\n");
        }
    }
    // civetweb answers these itself before any hook runs: methods it does not know (TRACE, COPY)
    // get 400, and the request target "*" gets the connection closed without a reply. Neither
    // reaches the metrics.
    for (const char* method : {"TRACE", "COPY"}) {
        INFO(method << " /metrics");
        CHECK(http_request(metrics.port(), method, "/metrics").status == 400);
    }
    const auto star = http_request(metrics.port(), "OPTIONS", "*");
    CHECK(star.status == 0);
    CHECK(star.body.empty());

    // The same resource after civetweb's normalisation, and a query string, are scrapes.
    CHECK(http_request(metrics.port(), "GET", "/metrics?debug=1").status == 200);
    CHECK(http_request(metrics.port(), "GET", "/./metrics").status == 200);

    const Scrape after = scrape(metrics);
    // Nothing but the three scrapes counted (prometheus-cpp counts a scrape once it is sent).
    CHECK(value(after, "exposer_scrapes_total") == value(before, "exposer_scrapes_total") + 3);
    for (const auto& [series, v] : before.samples) {
        if (series.rfind("relaymilter_", 0) != 0) continue;
        INFO(series);
        CHECK(after.samples.at(series) == v);
    }
    CHECK(decisions(after, "reject", "default") == 1);
}
