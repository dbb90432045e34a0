// daemon: start-up order is socket (as root), detach, pid file, drop root, then serve (the
// Unix chores themselves are in process.cpp). libmilter runs in a thread of its own; the main
// thread takes SIGHUP, SIGTERM and SIGINT (signals.cpp says how, and why libmilter's own signal
// thread never sees one) and acts on them in its loop: reload, or stop.
#include "daemon.hpp"

#include <libmilter/mfapi.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include "callbacks.hpp"
#include "metrics.hpp"
#include "process.hpp"
#include "redis_store.hpp"
#include "signals.hpp"
#include "version.hpp"

namespace relaymilter {

namespace {

// How long a stop may wait for libmilter's main loop to end before the daemon exits anyway.
// The loop ends within one poke of wake_listener (every 100 ms); this bounds a stuck one.
constexpr std::chrono::seconds kStopDeadline{30};
// How long start-up waits for libmilter's signal thread to be parked (normally well under 1 ms).
constexpr std::chrono::seconds kParkDeadline{5};

// The policy in force. Never freed, and held here so leak checkers see it reachable: smfi_main
// returns without waiting for libmilter's worker threads, which may still be in a callback
// reading it while run_daemon returns and the process exits.
LivePolicy* g_live_policy = nullptr;
LimitStore* g_limits_store = nullptr;
MemoryStore* g_memory_store = nullptr;  // g_limits_store when the limits are counted here
RedisStore* g_redis_store = nullptr;    // g_limits_store when they are shared
Metrics* g_metrics = nullptr;           // null: no metrics endpoint

Microseconds wall_clock() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<Microseconds>(ts.tv_sec) * kSecond + ts.tv_nsec / 1000;
}

// Every kTick the main loop forgets idle logins of the limits store and tells the metrics how
// a Redis store is doing.
constexpr std::chrono::seconds kTick{10};

void tick() {
    g_limits_store->expire(wall_clock());
    if (g_metrics && g_redis_store) {
        static uint64_t errors_seen = 0;
        g_metrics->store_up(g_redis_store->up());
        for (const uint64_t errors = g_redis_store->errors(); errors_seen < errors; ++errors_seen) g_metrics->store_error();
    }
}

void* stopper_thread(void*) {
    smfi_stop();  // blocks until libmilter's listener lets go of its lock
    return nullptr;
}

void* milter_thread(void* result) {
    *static_cast<int*>(result) = smfi_main();
    notify_milter_ended();
    return nullptr;
}

// A thread that never takes the daemon's signals (it inherits the caller's mask otherwise).
bool start_thread_without_signals(void* (*run)(void*), void* arg, pthread_t& thread) {
    const sigset_t three = daemon_signals();
    sigset_t old;
    pthread_sigmask(SIG_BLOCK, &three, &old);
    const bool started = pthread_create(&thread, nullptr, run, arg) == 0;
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    return started;
}

// The listen queue: what the conf asks for, else the most the kernel allows (net.core.somaxconn).
// Every MTA connection that finds the queue full is refused at once (Postfix: "Resource
// temporarily unavailable", then 451 for good mail), so the default is as deep as it can be.
int listen_backlog(const DaemonSettings& settings) {
    const std::optional<int> somaxconn = kernel_somaxconn();
    const std::optional<int> wanted = settings.conf.listen_backlog;
    if (!wanted) return somaxconn.value_or(SOMAXCONN);
    if (somaxconn && *wanted > *somaxconn) {
        log_line(LOG_WARNING, "listen-backlog = " + std::to_string(*wanted) + ": the kernel caps it at net.core.somaxconn = " +
                                  std::to_string(*somaxconn) + "; raise that sysctl to get more");
    }
    return *wanted;
}

std::string seconds_since(std::chrono::steady_clock::time_point start) {
    char text[32];
    std::snprintf(text, sizeof text, "%.2f s",
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    return text;
}

// Builds the new policy and swaps it in, on the main thread. It shares nothing with libmilter's
// accept loop but the allocator. No malloc_trim: it walks every arena with that arena's lock held
// (measured under load: median 0.1 ms, up to 11 ms), and gave back only ~0.1 MiB since the rule
// arrays are mapped on their own and unmapped when freed (policy/large_allocator.hpp).
void reload(LivePolicy& live, const std::string& path, const DaemonOptions& started, Metrics* metrics) {
    const auto start = std::chrono::steady_clock::now();
    LoadedPolicy loaded = load_policy(path);
    if (!loaded.policy) {
        for (const ConfError& error : loaded.errors) log_line(LOG_ERR, "reload refused: " + error.to_string());
        log_line(LOG_ERR, "reload refused: " + path + " has errors; the policy in force stays");
        if (metrics) metrics->reload_refused();
        return;
    }
    live.replace(loaded.policy);
    if (metrics) {
        metrics->reload_ok();
        metrics->rules(loaded.policy->counts());
    }
    const std::string summary = loaded.policy->summary();
    const bool daemon_keys_changed = !(loaded.conf->daemon == started);
    loaded = LoadedPolicy{};  // drop our references: sessions may still hold the old policy
    log_line(LOG_INFO, "reload: " + path + ": " + summary + " (loaded in " + seconds_since(start) + ")");
    if (daemon_keys_changed) {
        log_line(LOG_WARNING, "reload: socket, user, pidfile, log, listen-backlog, metrics and limits-store "
                              "changes take effect at restart");
    }
}

}  // namespace

int run_daemon(const DaemonSettings& settings, LoadedPolicy loaded) {
    log_open(settings.log);

    const std::string started_summary = loaded.policy->summary();
    g_live_policy = new LivePolicy(loaded.policy);
    LivePolicy& live = *g_live_policy;
    // From here on the policy in force is live's alone: the start-up conf and policy must not
    // outlive a reload (a 500,000-rule conf would hold its memory for the process's life).
    loaded = LoadedPolicy{};

    std::optional<Account> account;
    if (settings.user) {
        account = find_account(*settings.user);
        if (!account) {
            log_line(LOG_ERR, "user '" + *settings.user + "': no such user");
            return EX_CONFIG;
        }
        if (getuid() != 0 && getuid() != account->uid) {
            log_line(LOG_ERR, "user '" + *settings.user + "': only root can switch to another user");
            return EX_NOPERM;
        }
    } else if (getuid() == 0) {
        log_line(LOG_WARNING, "running as root: set 'user = relaymilter' in the conf (or -u USER) to drop root");
    }

    // The login limits' counters and locks: kept across reloads, and never freed, as the policy.
    // A Redis store that refuses us (wrong password, no such database) stops the start; one that
    // is only unreachable does not: its failure mode applies until it answers.
    const DaemonOptions& options = settings.conf;
    if (options.limits_store.shared()) {
        const StoreCheck check = RedisStore::check(options.limits_store, options.limits_store_timeout);
        if (check.result == StoreCheck::Result::refused) {
            log_line(LOG_ERR, "limits-store = " + options.limits_store.display() + ": " + check.reason);
            return EX_CONFIG;
        }
        auto* redis = new RedisStore(options.limits_store, store_options(options));
        g_redis_store = redis;
        g_limits_store = redis;
        if (check.result == StoreCheck::Result::unreachable) {
            log_line(LOG_WARNING, "limits-store = " + options.limits_store.display() + ": cannot reach it now (" + check.reason +
                                      "); " + (options.limits_store_failure == StoreFailure::local
                                                   ? "counting locally until it answers"
                                                   : "authenticated relays get tempfail until it answers"));
        }
    } else {
        g_limits_store = g_memory_store = new MemoryStore();
    }
    if (options.metrics) {
        std::vector<std::string> stages(std::begin(kCallbackStages), std::end(kCallbackStages));
        g_metrics = new Metrics({kVersion, stages, options.limits_store.shared()});
        g_metrics->rules(live.current()->counts());
        if (g_memory_store) {
            g_metrics->locked_logins_from([] { return std::optional<double>(double(g_memory_store->locked(wall_clock()))); });
        }
    }
    smfiDesc desc = bind_callbacks({live, *g_limits_store, g_metrics, settings.protocol});
    if (smfi_register(desc) != MI_SUCCESS) {
        log_line(LOG_ERR, "smfi_register failed");
        return EX_SOFTWARE;
    }
    std::string spec = settings.socket.text();
    if (smfi_setconn(spec.data()) != MI_SUCCESS) {
        log_line(LOG_ERR, "socket '" + spec + "': libmilter refused it");
        return EX_USAGE;
    }
    const int backlog = listen_backlog(settings);
    if (smfi_setbacklog(backlog) != MI_SUCCESS) {
        log_line(LOG_ERR, "listen backlog " + std::to_string(backlog) + ": libmilter refused it");
        return EX_SOFTWARE;
    }
    const std::string socket_path = settings.socket.kind() == SocketSpec::Kind::unix_path ? settings.socket.path() : "";
    if (!socket_path.empty() && unix_socket_in_use(socket_path)) {
        log_line(LOG_ERR, "cannot create the milter socket '" + spec + "': another process is listening on it");
        return EX_OSERR;
    }
    mode_t old_umask = umask(socket_path.empty() ? 022 : 0117);  // the socket is made 0660
    errno = 0;
    const bool opened = smfi_opensocket(true) == MI_SUCCESS;
    const int open_errno = errno;
    umask(old_umask);
    if (!opened) {
        std::string why = open_errno ? std::strerror(open_errno) : "see the mail log for libmilter's reason";
        log_line(LOG_ERR, "cannot create the milter socket '" + spec + "': " + why);
        return EX_OSERR;
    }
    struct stat made {};  // the socket we made: at exit we remove it, not a successor's
    if (!socket_path.empty()) lstat(socket_path.c_str(), &made);
    if (!socket_path.empty() && account && getuid() == 0 &&
        lchown(socket_path.c_str(), account->uid, account->gid) != 0) {
        log_line(LOG_ERR, "cannot hand the socket " + socket_path + " to " + account->name + ": " + errno_text());
        return EX_OSERR;
    }

    int ready_fd = -1;
    if (!settings.foreground) {
        if (int code = detach(ready_fd, settings.log == LogTarget::stderr_stream); code != EX_OK) {
            log_line(LOG_ERR, "cannot detach: " + errno_text());
            return code;
        }
        log_open(settings.log);  // the child's pid
    }
    auto fail = [&ready_fd](int code, const std::string& why) {
        log_line(LOG_ERR, why);
        report_ready(ready_fd, code);
        return code;
    };
    if (settings.pidfile) {
        std::string why;
        std::optional<uid_t> owner;
        if (account && getuid() == 0) owner = account->uid;
        if (!write_pidfile(*settings.pidfile, owner, why)) return fail(EX_CANTCREAT, "pid file " + why);
    }
    if (account && getuid() == 0) {
        std::string why;
        if (!drop_privileges(*account, why)) return fail(EX_NOPERM, "cannot drop root to " + account->name + ": " + why);
    }

    // The three signals wait, blocked, until the handlers are in place; every thread started from
    // here on inherits the block, and only the main thread lifts it (see signals.cpp).
    const sigset_t three = daemon_signals();
    sigset_t old_mask;
    pthread_sigmask(SIG_BLOCK, &three, &old_mask);
    if (!install_signal_handlers()) return fail(EX_OSERR, "pipe: " + errno_text());
    // The metrics endpoint's threads: in the process that serves (after detaching) and with the
    // signals blocked, so that none of them ever takes one.
    if (g_metrics) {
        if (auto why = g_metrics->start(*options.metrics)) return fail(EX_OSERR, *why);
    }
    set_session_stack_size();
    signal(SIGPIPE, SIG_IGN);
    int milter_result = MI_FAILURE;
    pthread_t milter;
    if (pthread_create(&milter, nullptr, milter_thread, &milter_result) != 0) {
        return fail(EX_OSERR, "cannot start the milter thread");
    }
    const auto park_deadline = std::chrono::steady_clock::now() + kParkDeadline;
    while (!libmilter_signal_thread_parked() && std::chrono::steady_clock::now() < park_deadline) {
        pollfd pfd{signal_wake_fd(), POLLIN, 0};  // readable when smfi_main ended early
        if (poll(&pfd, 1, 1) > 0) break;
    }
    if (!libmilter_signal_thread_parked()) {
        log_line(LOG_WARNING, "libmilter's signal thread did not call sigwait(): it may take a SIGHUP and stop the milter");
    }
    pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);

    log_line(LOG_INFO, std::string("relaymilter ") + kVersion + " starting: socket=" + spec + " conf=" +
                           settings.conf_path + ": " + started_summary + ", listen-backlog=" + std::to_string(backlog));
    report_ready(ready_fd, EX_OK);

    bool stopping = false;
    std::chrono::steady_clock::time_point stop_deadline;
    bool ended = false;
    auto next_tick = std::chrono::steady_clock::now();
    while (!ended) {
        if (std::chrono::steady_clock::now() >= next_tick) {  // the chores of every few seconds
            tick();
            next_tick = std::chrono::steady_clock::now() + kTick;
        }
        pollfd pfd{signal_wake_fd(), POLLIN, 0};
        if (poll(&pfd, 1, stopping ? 100 : static_cast<int>(std::chrono::milliseconds(kTick).count())) < 0 &&
            errno != EINTR) {
            log_line(LOG_ERR, "poll: " + errno_text());
            usleep(100'000);  // ENOMEM: try again, rather than spin
        }
        const SignalsTaken taken = take_signals();
        if (taken.milter_ended) {
            if (!stopping) log_line(LOG_ERR, "libmilter's main loop ended on its own");
            ended = true;
        } else if (!stopping && (taken.stop_term || taken.stop_int)) {
            log_line(LOG_INFO, std::string("stopping on ") + (taken.stop_term ? "SIGTERM" : "SIGINT"));
            stopping = true;
            stop_deadline = std::chrono::steady_clock::now() + kStopDeadline;
            pthread_t stopper;
            if (start_thread_without_signals(stopper_thread, nullptr, stopper)) {
                pthread_detach(stopper);
            } else {
                smfi_stop();
            }
        } else if (!stopping && taken.reload) {  // any number of SIGHUPs since the last turn: one reload
            reload(live, settings.conf_path, options, g_metrics);
        }
        if (stopping && !ended) {  // poke the listener until libmilter's loop has ended
            if (std::chrono::steady_clock::now() > stop_deadline) {
                log_line(LOG_ERR, "libmilter's main loop did not end within " +
                                      std::to_string(kStopDeadline.count()) + " s of the stop; exiting anyway");
                pthread_detach(milter);
                break;
            }
            wake_listener(settings.socket);
        }
    }
    if (ended) pthread_join(milter, nullptr);

    if (settings.pidfile && ::unlink(settings.pidfile->c_str()) != 0 && errno != ENOENT) {
        log_line(LOG_WARNING, "cannot remove the pid file " + *settings.pidfile + ": " + errno_text());
    }
    struct stat st {};
    if (!socket_path.empty() && lstat(socket_path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) &&
        st.st_ino == made.st_ino && st.st_dev == made.st_dev && ::unlink(socket_path.c_str()) != 0) {
        log_line(LOG_WARNING, "cannot remove the socket " + socket_path + ": " + errno_text());
    }
    log_line(LOG_INFO, "stopped");
    return ended && milter_result == MI_SUCCESS ? EX_OK : EX_SOFTWARE;
}

}  // namespace relaymilter
