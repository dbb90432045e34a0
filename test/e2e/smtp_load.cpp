// smtp_load: many concurrent SMTP sessions against a (test) MTA on loopback, each of a kind whose
// right answer is known, for the reliability tests (test/e2e/load_test.sh). It writes one line per
// session and prints totals; the test script judges the lines against the time line of what it
// did to relaymilter (reloads, kill -9). Loopback only; bounded by --seconds, or ended sooner by
// SIGTERM or SIGINT (sessions under way finish, and every line is written).
//   smtp_load --server 127.0.0.1:PORT --sessions N --seconds S --out FILE
//             [--auth-user USER --auth-password PASS] [--retry-pause-ms MS] [--kinds LIST]
// After a session that failed (tempfail or error) a worker waits --retry-pause-ms (default 0)
// before its next one, as a real client does not retry at once: 500 workers retrying at once
// while the milter is down keep a 2-core machine so busy that a restarted relaymilter needed
// 5-12 s to start instead of 0.1-0.3 s.
// Session kinds, in turn (--kinds refused,auth: only those; default all four):
//   refused   from 127.0.0.2 to <nN@refused.test>: must get 550 at RCPT
//   allowed   from 127.0.0.3 (allow-net) to <nN@allowed.test>: must get 250, then be queued
//   local     from 127.0.0.2 to <nN@example.com>: must get 250, then be queued
//   auth      from 127.0.0.2, SMTP AUTH, to <nN@auth.test>: must get 250, then be queued
// Each line: START_NS END_NS KIND OUTCOME DETAIL, OUTCOME one of
//   ok        the right answer
//   wrong     the wrong answer (a relay accepted that must be refused, or a refusal of one that
//             must pass)
//   tempfail  a 4xx on the way (what a fail-closed MTA answers while the milter is down)
//   error     no answer: connection refused, reset, or timeout
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "smtp_client.hpp"

namespace {

struct Options {
    smtp_test::Endpoint server{"127.0.0.1", 25};
    int sessions = 10;
    int seconds = 10;
    std::string out = "/dev/stdout";
    std::string auth_user, auth_password;
    int retry_pause_ms = 0;
    std::vector<int> kinds{0, 1, 2, 3};  // Kind values, taken in turn
};

std::atomic<bool> g_stop{false};
void on_stop(int) { g_stop.store(true); }

int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

enum class Kind { refused, allowed, local, auth };
const char* kind_name(Kind k) {
    switch (k) {
    case Kind::refused: return "refused";
    case Kind::allowed: return "allowed";
    case Kind::local: return "local";
    case Kind::auth: return "auth";
    }
    return "?";
}

struct Result {
    const char* outcome;
    std::string detail;
};

Result session(const Options& o, Kind kind, long n) {
    const char* source = kind == Kind::allowed ? "127.0.0.3" : "127.0.0.2";
    const char* domain = kind == Kind::refused ? "refused.test" : kind == Kind::allowed ? "allowed.test"
                         : kind == Kind::local ? "example.com" : "auth.test";
    auto tempfail = [](int code) { return code >= 400 && code < 500; };
    try {
        smtp_test::Connection smtp(o.server, source);
        int code = smtp.reply().code;
        if (code != 220) return {tempfail(code) ? "tempfail" : "error", "banner=" + std::to_string(code)};
        code = smtp.command("EHLO load.test").code;
        if (code != 250) return {tempfail(code) ? "tempfail" : "error", "EHLO=" + std::to_string(code)};
        if (kind == Kind::auth) {
            code = smtp.auth_plain(o.auth_user, o.auth_password).code;
            if (code != 235) return {tempfail(code) ? "tempfail" : "error", "AUTH=" + std::to_string(code)};
        }
        code = smtp.command("MAIL FROM:<load@sender.test>").code;
        if (code != 250) return {tempfail(code) ? "tempfail" : "error", "MAIL=" + std::to_string(code)};
        const std::string rcpt = "n" + std::to_string(n) + "@" + domain;
        code = smtp.command("RCPT TO:<" + rcpt + ">").code;
        std::string detail = "RCPT=" + std::to_string(code);
        if (tempfail(code)) return {"tempfail", detail};
        if (kind == Kind::refused) {
            smtp.command("QUIT");
            return {code >= 500 ? "ok" : "wrong", detail};
        }
        if (code != 250) {
            smtp.command("QUIT");
            return {code >= 500 ? "wrong" : "error", detail};
        }
        code = smtp.command("DATA").code;
        if (code != 354) return {tempfail(code) ? "tempfail" : "error", detail + " DATA=" + std::to_string(code)};
        smtp.send("Subject: load " + rcpt + "\r\n\r\nload test\r\n.\r\n");
        code = smtp.reply().code;
        detail += " END=" + std::to_string(code);
        smtp.command("QUIT");
        if (code == 250) return {"ok", detail};
        return {tempfail(code) ? "tempfail" : "error", detail};
    } catch (const std::exception& e) {
        return {"error", e.what()};
    }
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string key = argv[i], value = argv[i + 1];
        if (key == "--server") {
            o.server = smtp_test::Endpoint::parse(value);
        } else if (key == "--sessions") {
            o.sessions = std::stoi(value);
        } else if (key == "--seconds") {
            o.seconds = std::stoi(value);
        } else if (key == "--out") {
            o.out = value;
        } else if (key == "--auth-user") {
            o.auth_user = value;
        } else if (key == "--auth-password") {
            o.auth_password = value;
        } else if (key == "--retry-pause-ms") {
            o.retry_pause_ms = std::stoi(value);
        } else if (key == "--kinds") {
            o.kinds.clear();
            for (size_t at = 0; at <= value.size();) {
                const size_t end = std::min(value.find(',', at), value.size());
                const std::string name = value.substr(at, end - at);
                int k = 0;
                while (k < 4 && name != kind_name(static_cast<Kind>(k))) ++k;
                if (k == 4) {
                    std::fprintf(stderr, "smtp_load: --kinds: unknown kind '%s' (refused, allowed, local, auth)\n", name.c_str());
                    return 64;
                }
                o.kinds.push_back(k);
                at = end + 1;
            }
        } else {
            std::fprintf(stderr, "smtp_load: unknown option %s\n", key.c_str());
            return 64;
        }
    }
    FILE* out = std::fopen(o.out.c_str(), "w");
    if (!out) return 73;
    std::mutex out_mutex;
    std::atomic<long> counter{0};
    struct sigaction stop {};
    stop.sa_handler = on_stop;
    sigaction(SIGTERM, &stop, nullptr);
    sigaction(SIGINT, &stop, nullptr);
    const int64_t stop_at = now_ns() + int64_t{o.seconds} * 1'000'000'000;
    std::atomic<long> totals[4] = {};  // ok, wrong, tempfail, error
    std::vector<std::thread> workers;
    for (int w = 0; w < o.sessions; ++w) {
        workers.emplace_back([&, w] {
            long i = w;
            while (now_ns() < stop_at && !g_stop.load()) {
                const long n = counter.fetch_add(1);
                const Kind kind = static_cast<Kind>(o.kinds[static_cast<size_t>(i++) % o.kinds.size()]);
                const int64_t start = now_ns();
                const Result r = session(o, kind, n);
                const int64_t end = now_ns();
                const int slot = std::strcmp(r.outcome, "ok") == 0 ? 0 : std::strcmp(r.outcome, "wrong") == 0 ? 1
                                 : std::strcmp(r.outcome, "tempfail") == 0 ? 2 : 3;
                ++totals[slot];
                {
                    std::lock_guard lock(out_mutex);
                    std::fprintf(out, "%lld %lld %s %s %s\n", static_cast<long long>(start),
                                 static_cast<long long>(end), kind_name(kind), r.outcome, r.detail.c_str());
                }
                if (slot >= 2 && o.retry_pause_ms > 0) {
                    std::this_thread::sleep_for(std::chrono::milliseconds(o.retry_pause_ms));
                }
            }
        });
    }
    for (auto& t : workers) t.join();
    std::fclose(out);
    std::printf("smtp_load: %ld sessions: %ld ok, %ld wrong, %ld tempfail, %ld error\n", counter.load(), totals[0].load(),
                totals[1].load(), totals[2].load(), totals[3].load());
    return totals[1] == 0 ? 0 : 1;
}
