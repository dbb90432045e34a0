// signals: the daemon's three signals, taken by the main thread alone, and libmilter's own signal
// thread made harmless. What a signal does (reload, stop) is the daemon's business, not this file's.
//
// libmilter's smfi_main starts a thread that sigwait()s for SIGHUP, SIGTERM and SIGINT and stops
// the milter on any of them (sendmail's libmilter/signal.c, mi_signal_thread); its API has no way
// to turn that off. The kernel gives a process-directed signal to the main thread when that thread
// does not block it -- but not when the main thread already has a signal pending while off the
// CPU, nor when the process was stopped (SIGSTOP or a cgroup freeze, then SIGCONT): then a thread
// in sigwait() may take it. Measured with test/bench/signal_race (this layout, 2000 rounds, a
// 2-core VM): the sigwait() thread took 636 SIGHUPs and 582 SIGTERMs of 2000 back-to-back
// SIGTERM+SIGHUP pairs, and 937 of 2000 SIGHUPs sent while the process was stopped (1607 with a
// CPU hog beside it); the real relaymilter stopped on a SIGHUP once in 901 SIGSTOP, SIGHUP,
// SIGCONT cycles. Same-signal bursts alone were safe: a pending signal absorbs its repeats.
//
// So relaymilter defines sigwait() itself. The executable comes first in the dynamic linker's
// search, so libmilter.so's call lands here (the mechanism that lets a program replace malloc).
// A caller waiting for any of the three -- only libmilter's thread: relaymilter's own code never
// calls sigwait -- is parked for good with every signal blocked; any other caller gets the usual
// sigwait. The main thread is then the only thread that does not block the three, so the kernel
// gives every one of them to it, whatever the timing. Should a future libmilter wait some other
// way (sigwaitinfo, signalfd), nothing gets parked: the daemon checks at start-up and says so in
// the log, and runs as before, on the kernel's preference alone.
//
// The other ways out, and why not: our own sigwait thread with the three blocked everywhere makes
// two waiters, and the kernel picks either; linking libmilter.a with -Wl,--wrap=sigwait does what
// this does, but freezes a copy of libmilter into the binary (Debian's libmilter updates would no
// longer reach it); calling libmilter's internal mi_listener() instead of smfi_main() skips the
// thread but is not its API; a second process for the listener doubles the daemon.
#include "signals.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

namespace relaymilter {

namespace {

int g_wake[2] = {-1, -1};  // both ends non-blocking
std::atomic<bool> g_reload{false}, g_stop_term{false}, g_stop_int{false}, g_milter_ended{false};
std::atomic<bool> g_parked{false};
static_assert(std::atomic<bool>::is_always_lock_free, "the handler may only touch lock-free atomics");

// One byte wakes the main loop; a full pipe already holds a wake-up, so a failed write loses nothing.
void wake() {
    const char byte = 0;
    [[maybe_unused]] ssize_t n = ::write(g_wake[1], &byte, 1);
}

void on_signal(int sig) {
    const int saved = errno;
    if (sig == SIGHUP) g_reload.store(true);
    if (sig == SIGTERM) g_stop_term.store(true);
    if (sig == SIGINT) g_stop_int.store(true);
    wake();
    errno = saved;
}

bool waits_for_daemon_signal(const sigset_t* set) {
    return sigismember(set, SIGHUP) == 1 || sigismember(set, SIGTERM) == 1 || sigismember(set, SIGINT) == 1;
}

[[noreturn]] void park_forever() {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, nullptr);
    g_parked.store(true);
    for (;;) pause();  // nothing can interrupt it: every signal is blocked
}

}  // namespace

sigset_t daemon_signals() {
    sigset_t set;
    sigemptyset(&set);
    for (int sig : {SIGHUP, SIGTERM, SIGINT}) sigaddset(&set, sig);
    return set;
}

bool install_signal_handlers() {
    if (pipe2(g_wake, O_CLOEXEC | O_NONBLOCK) != 0) return false;
    // The three are blocked while the handler runs, so handlers never nest: with SA_NODEFER a storm
    // of SIGHUPs nested one handler frame per signal until the main thread's stack overflowed
    // (20,000 SIGHUPs from a shell loop: SIGSEGV). Blocked meanwhile, a signal waits for the handler
    // to return; no other thread takes it, since every other thread blocks the three as well.
    // SA_RESTART: file reads and log writes in the main thread are not cut short by a signal.
    struct sigaction action {};
    action.sa_handler = on_signal;
    action.sa_flags = SA_RESTART;
    action.sa_mask = daemon_signals();
    for (int sig : {SIGHUP, SIGTERM, SIGINT}) sigaction(sig, &action, nullptr);
    return true;
}

int signal_wake_fd() { return g_wake[0]; }

SignalsTaken take_signals() {
    char bytes[64];
    while (::read(g_wake[0], bytes, sizeof bytes) > 0) {
    }
    SignalsTaken taken;
    taken.reload = g_reload.exchange(false);
    taken.stop_term = g_stop_term.exchange(false);
    taken.stop_int = g_stop_int.exchange(false);
    taken.milter_ended = g_milter_ended.load();
    return taken;
}

void notify_milter_ended() {
    g_milter_ended.store(true);
    wake();
}

bool libmilter_signal_thread_parked() { return g_parked.load(); }

}  // namespace relaymilter

// libmilter's signal thread ends up here (see the top of this file).
extern "C" __attribute__((visibility("default"))) int sigwait(const sigset_t* __restrict set, int* __restrict sig) {
    if (relaymilter::waits_for_daemon_signal(set)) relaymilter::park_forever();
    for (;;) {
        const int got = sigwaitinfo(set, nullptr);
        if (got > 0) {
            *sig = got;
            return 0;
        }
        if (errno != EINTR) return errno;
    }
}
