// process: the Unix chores of a daemon, without libmilter: detaching from the terminal, the pid
// file, dropping root, the threads' stack size, the milter socket's file, the kernel's limits.
#include "process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sysexits.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

namespace relaymilter {

std::string errno_text() { return std::strerror(errno); }

// libmilter runs sessions on threads it creates with default attributes: an 8 MiB stack each
// unless we say otherwise. Small stacks are cheaper to map and stay in glibc's stack cache, which
// cut relaymilter's CPU per refused SMTP session by ~10% here (570 -> 500 us, a private Postfix
// and smtp-source -s 20). Our callbacks need little stack; 512 KiB leaves room for sanitizers.
constexpr size_t kSessionStackBytes = 512 * 1024;

void set_session_stack_size() {
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) != 0) return;
    if (pthread_attr_setstacksize(&attr, kSessionStackBytes) == 0) pthread_setattr_default_np(&attr);
    pthread_attr_destroy(&attr);
}

namespace {
enum class UnixPeer { listening, none };

// Whether something listens on the UNIX socket at `path`. The connect never waits: a blocking
// connect to a listener whose queue is full sleeps until the listener accepts, which is forever
// when its accept loop is stuck. EAGAIN (queue full) means a listener is there.
UnixPeer connect_unix(const std::string& path) {
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    if (path.size() >= sizeof sun.sun_path) return UnixPeer::none;
    std::memcpy(sun.sun_path, path.c_str(), path.size());
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return UnixPeer::none;
    const bool listening = connect(fd, reinterpret_cast<sockaddr*>(&sun), sizeof sun) == 0 || errno == EAGAIN;
    ::close(fd);
    return listening ? UnixPeer::listening : UnixPeer::none;
}
}  // namespace

// libmilter takes smfi_stop() only when its listener's poll returns, which without traffic
// is a timeout of about 5 s; a connection to our own socket makes it return at once.
// Best effort, and it never waits (the caller pokes again): a host name in the socket spec is
// not resolved, and the connect is non-blocking.
void wake_listener(const SocketSpec& listener) {
    int fd = -1;
    if (listener.kind() == SocketSpec::Kind::unix_path) {
        [[maybe_unused]] UnixPeer peer = connect_unix(listener.path());
    } else {
        const std::string host = listener.local_address();
        const uint16_t port = listener.port();
        sockaddr_storage ss{};
        socklen_t length = 0;
        auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
        auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
        if (inet_pton(AF_INET, host.c_str(), &sin->sin_addr) == 1) {
            sin->sin_family = AF_INET;
            sin->sin_port = htons(port);
            length = sizeof *sin;
        } else if (inet_pton(AF_INET6, host.c_str(), &sin6->sin6_addr) == 1) {
            sin6->sin6_family = AF_INET6;
            sin6->sin6_port = htons(port);
            length = sizeof *sin6;
        } else {
            return;
        }
        fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd >= 0 && connect(fd, reinterpret_cast<sockaddr*>(&ss), length) != 0 && errno == EINPROGRESS) {
            pollfd done{fd, POLLOUT, 0};  // let the handshake finish, briefly: loopback takes microseconds
            [[maybe_unused]] int ready = poll(&done, 1, 50);
        }
    }
    if (fd >= 0) ::close(fd);
}

// Whether something accepts connections on the UNIX socket at `path`: then it is not stale.
bool unix_socket_in_use(const std::string& path) { return connect_unix(path) == UnixPeer::listening; }

// net.core.somaxconn, the kernel's cap on any listen queue (per network namespace).
std::optional<int> kernel_somaxconn() {
    const int fd = ::open("/proc/sys/net/core/somaxconn", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return std::nullopt;
    char text[32] = {};
    const ssize_t n = ::read(fd, text, sizeof text - 1);
    ::close(fd);
    if (n <= 0) return std::nullopt;
    char* end = nullptr;
    const long value = std::strtol(text, &end, 10);
    if (end == text || value <= 0 || value > INT_MAX) return std::nullopt;
    return static_cast<int>(value);
}

std::optional<Account> find_account(const std::string& name) {
    passwd* pw = getpwnam(name.c_str());
    if (!pw) return std::nullopt;
    return Account{pw->pw_name, pw->pw_uid, pw->pw_gid};
}

// Drops root for good: supplementary groups, group, user; then checks root cannot come back.
bool drop_privileges(const Account& account, std::string& why) {
    if (initgroups(account.name.c_str(), account.gid) != 0) return why = "initgroups: " + errno_text(), false;
    if (setgid(account.gid) != 0) return why = "setgid: " + errno_text(), false;
    if (setuid(account.uid) != 0) return why = "setuid: " + errno_text(), false;
    if (account.uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) return why = "root could be regained", false;
    return true;
}

// Writes our pid to `path` without following a symlink planted there; a pid file left by a
// process that is gone is replaced, one of a running process is not.
bool write_pidfile(const std::string& path, std::optional<uid_t> owner, std::string& why) {
    struct stat st {};
    if (lstat(path.c_str(), &st) == 0) {
        if (S_ISREG(st.st_mode)) {
            int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
            char buf[32] = {};
            if (fd >= 0) {
                [[maybe_unused]] ssize_t n = ::read(fd, buf, sizeof buf - 1);
                ::close(fd);
            }
            long pid = std::strtol(buf, nullptr, 10);
            if (pid > 0 && pid != getpid() && (kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM)) {
                why = path + ": relaymilter already runs as pid " + std::to_string(pid);
                return false;
            }
        }
        if (::unlink(path.c_str()) != 0) return why = path + ": cannot remove the stale pid file: " + errno_text(), false;
    }
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) return why = path + ": " + errno_text(), false;
    std::string text = std::to_string(getpid()) + "\n";
    bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    if (ok && owner) ok = fchown(fd, *owner, static_cast<gid_t>(-1)) == 0;
    if (!ok) why = path + ": " + errno_text();
    ::close(fd);
    return ok;
}

// Detaches from the terminal. The parent waits until the child reports start-up done and
// exits with the child's start-up code, so errors found after the fork still reach the caller.
int detach(int& ready_fd, bool keep_stderr) {
    int ready[2];
    if (pipe(ready) != 0) return EX_OSERR;
    pid_t child = fork();
    if (child < 0) return EX_OSERR;
    if (child > 0) {
        ::close(ready[1]);
        unsigned char code = EX_SOFTWARE;
        ssize_t n;
        do {
            n = ::read(ready[0], &code, 1);
        } while (n < 0 && errno == EINTR);
        _exit(n == 1 ? code : EX_SOFTWARE);
    }
    ::close(ready[0]);
    ready_fd = ready[1];
    setsid();
    if (chdir("/") != 0) return EX_OSERR;
    int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) {
        dup2(null, STDIN_FILENO);
        dup2(null, STDOUT_FILENO);
        if (!keep_stderr) dup2(null, STDERR_FILENO);
        if (null > STDERR_FILENO) ::close(null);
    }
    return EX_OK;
}

void report_ready(int& ready_fd, int code) {
    if (ready_fd < 0) return;
    auto byte = static_cast<unsigned char>(code);
    [[maybe_unused]] ssize_t n = ::write(ready_fd, &byte, 1);
    ::close(ready_fd);
    ready_fd = -1;
}

}  // namespace relaymilter
