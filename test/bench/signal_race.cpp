// signal_race: which thread takes a process-directed signal, in relaymilter's thread layout:
// a main thread with SA_NODEFER handlers for SIGHUP, SIGTERM and SIGINT that wake a loop through a
// pipe, busy worker threads that block the three, and a thread in sigwait() on the three, as
// libmilter's signal thread is (it stops the milter on any of them). Prints, per pattern of
// signals, how many the main thread's handler and the sigwait() thread took, with the sigwait()
// thread waiting (libmilter's layout) and parked (relaymilter's: blocked, never waiting).
// Not a test: it measures the kernel. Run it with a CPU hog beside it, too.
//   signal_race [ROUNDS]      (default 2000 rounds per pattern and layout)
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

namespace {

std::atomic<long> g_handled[32];
std::atomic<long> g_waited[32];
int g_wake[2];

void on_signal(int sig) {
    ++g_handled[sig];
    const char byte = 0;
    [[maybe_unused]] ssize_t n = write(g_wake[1], &byte, 1);
}

sigset_t three() {
    sigset_t set;
    sigemptyset(&set);
    for (int sig : {SIGHUP, SIGTERM, SIGINT}) sigaddset(&set, sig);
    return set;
}

void* waiting_thread(void*) {  // libmilter's mi_signal_thread, counting instead of stopping
    const sigset_t set = three();
    for (;;) {
        int sig = 0;
        if (sigwait(&set, &sig) == 0) ++g_waited[sig];
    }
}

void* parked_thread(void*) {  // relaymilter's replacement: every signal blocked, never waiting
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, nullptr);
    for (;;) pause();
}

struct Counts {
    long handled[3], waited[3];
};

// The child: the thread layout, until the parent asks for the counts on `ask`.
[[noreturn]] void child(bool parked, int ask, int answer) {
    if (pipe(g_wake) != 0) _exit(1);
    const sigset_t set = three();
    sigset_t old;
    pthread_sigmask(SIG_BLOCK, &set, &old);  // inherited by every thread below
    pthread_t t;
    pthread_create(&t, nullptr, parked ? parked_thread : waiting_thread, nullptr);
    for (int i = 0; i < 4; ++i) {  // libmilter's workers: short bursts of work
        std::thread([] {
            for (;;) {
                volatile long x = 0;
                for (long j = 0; j < 200000; ++j) x = x + j;
                usleep(1000);
            }
        }).detach();
    }
    std::thread([ask, answer] {
        char c;
        [[maybe_unused]] ssize_t n = read(ask, &c, 1);
        Counts counts{};
        const int sigs[3] = {SIGHUP, SIGTERM, SIGINT};
        for (int i = 0; i < 3; ++i) {
            counts.handled[i] = g_handled[sigs[i]].load();
            counts.waited[i] = g_waited[sigs[i]].load();
        }
        n = write(answer, &counts, sizeof counts);
        _exit(0);
    }).detach();
    struct sigaction action {};
    action.sa_handler = on_signal;
    action.sa_flags = SA_NODEFER;
    sigemptyset(&action.sa_mask);
    for (int sig : {SIGHUP, SIGTERM, SIGINT}) sigaction(sig, &action, nullptr);
    pthread_sigmask(SIG_SETMASK, &old, nullptr);  // the main thread alone takes them
    [[maybe_unused]] ssize_t n = write(answer, "r", 1);
    for (;;) {  // the daemon's main loop: wake, then a little work (a reload)
        char byte;
        if (read(g_wake[0], &byte, 1) == 1) {
            volatile long x = 0;
            for (long j = 0; j < 20000; ++j) x = x + j;
        }
    }
}

void run(const std::string& pattern, bool parked, int rounds) {
    int ask[2], answer[2];
    if (pipe(ask) != 0 || pipe(answer) != 0) return;
    const pid_t pid = fork();
    if (pid == 0) child(parked, ask[0], answer[1]);
    char ready;
    if (read(answer[0], &ready, 1) != 1) return;
    long sent[3] = {};
    auto send = [&](int sig, int slot) {
        kill(pid, sig);
        ++sent[slot];
    };
    for (int i = 0; i < rounds; ++i) {
        if (pattern == "SIGHUP burst") {
            send(SIGHUP, 0);
        } else if (pattern == "SIGTERM+SIGHUP") {
            send(SIGTERM, 1);
            send(SIGHUP, 0);
        } else if (pattern == "SIGHUP+SIGINT+SIGTERM") {
            send(SIGHUP, 0);
            send(SIGINT, 2);
            send(SIGTERM, 1);
        } else if (pattern == "SIGSTOP,SIGHUP,SIGCONT") {
            kill(pid, SIGSTOP);
            send(SIGHUP, 0);
            kill(pid, SIGCONT);
            usleep(200);
        }
    }
    usleep(200000);
    [[maybe_unused]] ssize_t n = write(ask[1], "x", 1);
    Counts c{};
    n = read(answer[0], &c, sizeof c);
    waitpid(pid, nullptr, 0);
    for (int fd : {ask[0], ask[1], answer[0], answer[1]}) close(fd);
    std::printf("%-24s %-8s sent HUP/TERM/INT %5ld %5ld %5ld | main thread %5ld %5ld %5ld | sigwait thread %5ld %5ld %5ld\n",
                pattern.c_str(), parked ? "parked" : "waiting", sent[0], sent[1], sent[2], c.handled[0], c.handled[1],
                c.handled[2], c.waited[0], c.waited[1], c.waited[2]);
    std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
    const int rounds = argc > 1 ? std::atoi(argv[1]) : 2000;
    std::printf("signals sent to a process (repeats of one pending signal merge: the takers' sums can be lower)\n");
    for (const char* pattern : {"SIGHUP burst", "SIGTERM+SIGHUP", "SIGHUP+SIGINT+SIGTERM", "SIGSTOP,SIGHUP,SIGCONT"}) {
        for (bool parked : {false, true}) run(pattern, parked, rounds);
    }
}
