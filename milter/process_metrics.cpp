// process_metrics: /proc/self/stat, /proc/self/fd and getrlimit, read when Prometheus scrapes;
// nothing outside /proc/self, which the systemd unit (ProtectProc, ProcSubset=pid) leaves
// visible. Names, types and units as every Prometheus client library writes them.
#include "process_metrics.hpp"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <ctime>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

namespace relaymilter {

namespace {

prometheus::MetricFamily family(const char* name, const char* help, prometheus::MetricType type, double value) {
    prometheus::ClientMetric metric;
    if (type == prometheus::MetricType::Counter) {
        metric.counter.value = value;
    } else {
        metric.gauge.value = value;
    }
    return {name, help, type, {metric}};
}

// The fields of /proc/self/stat after the command name, which may itself hold spaces and ')':
// fields[0] is the state (field 3 in proc(5)), so field N of proc(5) is fields[N - 3].
std::vector<std::string> stat_fields() {
    std::ifstream in("/proc/self/stat");
    std::string line;
    if (!std::getline(in, line)) return {};
    const auto paren = line.rfind(')');
    if (paren == std::string::npos) return {};
    std::istringstream rest(line.substr(paren + 1));
    std::vector<std::string> fields;
    for (std::string field; rest >> field;) fields.push_back(field);
    return fields;
}

std::optional<double> field(const std::vector<std::string>& fields, size_t proc5_number) {
    if (proc5_number < 3 || proc5_number - 3 >= fields.size()) return std::nullopt;
    try {
        return std::stod(fields[proc5_number - 3]);
    } catch (...) {
        return std::nullopt;
    }
}

// When the system booted, in seconds since the epoch: the wall clock less the time since boot.
// Not /proc/stat's btime: the systemd unit's ProcSubset=pid hides /proc/stat.
std::optional<double> boot_time() {
    timespec real{}, boot{};
    if (clock_gettime(CLOCK_REALTIME, &real) != 0 || clock_gettime(CLOCK_BOOTTIME, &boot) != 0) return std::nullopt;
    auto seconds = [](const timespec& ts) { return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9; };
    return seconds(real) - seconds(boot);
}

// Descriptors open now, without the one this count reads /proc/self/fd through.
std::optional<double> open_fds() {
    DIR* dir = opendir("/proc/self/fd");
    if (!dir) return std::nullopt;
    double n = 0;
    while (const dirent* entry = readdir(dir)) {
        if (entry->d_name[0] != '.') ++n;
    }
    closedir(dir);
    return n - 1;
}

class ProcessMetrics final : public prometheus::Collectable {
public:
    ProcessMetrics()
        : ticks_(static_cast<double>(sysconf(_SC_CLK_TCK))), page_bytes_(static_cast<double>(sysconf(_SC_PAGESIZE))) {
        const auto fields = stat_fields();
        const auto boot = boot_time();
        const auto started = field(fields, 22);  // starttime, in clock ticks after boot
        if (boot && started && ticks_ > 0) start_time_ = *boot + *started / ticks_;
    }

    std::vector<prometheus::MetricFamily> Collect() const override {
        using prometheus::MetricType;
        std::vector<prometheus::MetricFamily> out;
        const auto fields = stat_fields();
        const auto user = field(fields, 14);
        const auto system = field(fields, 15);
        if (user && system && ticks_ > 0) {
            out.push_back(family("process_cpu_seconds_total", "CPU time relaymilter has used, user and system, in seconds.",
                                 MetricType::Counter, (*user + *system) / ticks_));
        }
        if (const auto rss = field(fields, 24)) {
            out.push_back(family("process_resident_memory_bytes", "Memory relaymilter holds in RAM (resident set size), in bytes.",
                                 MetricType::Gauge, *rss * page_bytes_));
        }
        if (const auto vsize = field(fields, 23)) {
            out.push_back(family("process_virtual_memory_bytes", "Virtual memory size of relaymilter, in bytes.",
                                 MetricType::Gauge, *vsize));
        }
        if (start_time_) {
            out.push_back(family("process_start_time_seconds", "When relaymilter started, in seconds since the Unix epoch.",
                                 MetricType::Gauge, *start_time_));
        }
        if (const auto fds = open_fds()) {
            out.push_back(family("process_open_fds", "File descriptors relaymilter has open (milter and HTTP connections included).",
                                 MetricType::Gauge, *fds));
        }
        rlimit limit{};
        if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
            out.push_back(family("process_max_fds", "The most file descriptors relaymilter may open (its RLIMIT_NOFILE).",
                                 MetricType::Gauge, static_cast<double>(limit.rlim_cur)));
        }
        return out;
    }

private:
    double ticks_;
    double page_bytes_;
    std::optional<double> start_time_;
};

}  // namespace

std::shared_ptr<prometheus::Collectable> process_metrics() { return std::make_shared<ProcessMetrics>(); }

}  // namespace relaymilter
