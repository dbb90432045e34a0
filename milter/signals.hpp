// signals: how the daemon hears SIGHUP (reload), SIGTERM and SIGINT (stop): handlers in the main
// thread only, which note the signal and wake the main loop through a pipe. libmilter's own
// signal thread is parked for good (see signals.cpp). No decision and no logging in here.
#pragma once

#include <signal.h>

namespace relaymilter {

// What arrived since the last take_signals(); repeats of one signal count once.
struct SignalsTaken {
    bool reload = false;        // SIGHUP
    bool stop_term = false;     // SIGTERM
    bool stop_int = false;      // SIGINT
    bool milter_ended = false;  // notify_milter_ended(): libmilter's main loop returned
};

// The three signals, for pthread_sigmask in the threads that must never take them.
[[nodiscard]] sigset_t daemon_signals();

// Makes the wake-up pipe and installs the handlers. Call from the main thread, with the three
// signals blocked in it and in every other thread; then unblock them in the main thread alone.
// Returns false (errno set) when the pipe cannot be made.
[[nodiscard]] bool install_signal_handlers();

// Readable when something is waiting for take_signals().
[[nodiscard]] int signal_wake_fd();
// Drains the pipe and returns (and clears) what arrived.
[[nodiscard]] SignalsTaken take_signals();
// Called by the thread running smfi_main when it returns.
void notify_milter_ended();

// Whether libmilter's signal thread called our sigwait() and is parked.
[[nodiscard]] bool libmilter_signal_thread_parked();

}  // namespace relaymilter
