// process: the Unix chores of a daemon, without libmilter: detaching from the terminal, the pid
// file, dropping root, the threads' stack size, the milter socket's file, and the kernel's cap on
// a listen queue. Each returns what
// happened; the daemon decides what to log and which exit code it means.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "socket_spec.hpp"

namespace relaymilter {

[[nodiscard]] std::string errno_text();

// libmilter's session threads get small stacks (see process.cpp for the measurement).
void set_session_stack_size();

// Whether something accepts connections on the UNIX socket at `path`: then it is not stale.
[[nodiscard]] bool unix_socket_in_use(const std::string& path);
// Connects to our own listener so libmilter's poll returns and sees smfi_stop(); never waits.
void wake_listener(const SocketSpec& listener);
// net.core.somaxconn: the kernel caps every listen queue at it. nullopt when unreadable.
[[nodiscard]] std::optional<int> kernel_somaxconn();

struct Account {
    std::string name;
    uid_t uid;
    gid_t gid;
};
[[nodiscard]] std::optional<Account> find_account(const std::string& name);
// Drops root for good: supplementary groups, group, user; then checks root cannot come back.
[[nodiscard]] bool drop_privileges(const Account& account, std::string& why);

// Writes our pid to `path` without following a symlink; replaces a stale one, refuses a live one.
[[nodiscard]] bool write_pidfile(const std::string& path, std::optional<uid_t> owner, std::string& why);

// Detaches from the terminal; the parent exits with the code the child later reports through
// report_ready. Returns EX_OK in the child, or a sysexits.h code when detaching failed.
[[nodiscard]] int detach(int& ready_fd, bool keep_stderr);
void report_ready(int& ready_fd, int code);

}  // namespace relaymilter
